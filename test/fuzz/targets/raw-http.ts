// Raw HTTP for the server targets: an input's bytes go to a real server in this process over
// a loopback TCP connection, as a client would send them. Documented outcome (README, "HTTP
// API"): every request gets one answer; bad input gets a 4xx error, never a 5xx, never a
// silence, and the process keeps serving (an exception thrown by a request handler would end
// it: it is caught here and reported against the input that caused it).
import net from 'node:net';
import { check, ContractViolation } from './target.js';

/** How long an answer may take before the input counts as a hang. */
const ANSWER_MS = 3000;

let uncaught: unknown;
let watching = false;

/** Starts catching exceptions no handler caught (in the server's callbacks). */
export function watchUncaught(): void {
  if (watching) return;
  watching = true;
  process.on('uncaughtException', (error) => {
    uncaught ??= error;
  });
}

/** Sends `request`, half-closes, and returns everything the server wrote before closing. */
export function exchange(port: number, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ContractViolation(`no answer within ${ANSWER_MS} ms (${Buffer.concat(chunks).length} bytes so far)`));
    }, ANSWER_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer is the server's right
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.end(request);
  });
}

export interface Answer {
  /** Statuses of the responses, in order. */
  statuses: number[];
}

/** Checks what the server wrote back; throws what a handler threw, if one did. */
export function checkAnswer(response: Buffer): Answer {
  if (uncaught !== undefined) {
    const error = uncaught;
    uncaught = undefined;
    throw error;
  }
  const statuses = [...response.toString('latin1').matchAll(/(?:^|\r\n)HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
  if (statuses.some((status) => status >= 500 && status !== 503)) {
    // The error's own message first: crashes are told apart by it.
    const text = response.toString('latin1');
    const message = /"message":"([^"]*)"/.exec(text)?.[1] ?? text.slice(0, 200);
    throw new ContractViolation(`answered ${statuses.join(', ')}: ${message}\n${text.slice(0, 800)}`);
  }
  check(response.length === 0 || statuses.length > 0, `an answer without a status line: ${response.toString('latin1').slice(0, 200)}`);
  return { statuses };
}

/** 'ok' when some request was served, 'refused' when every one was answered with an error. */
export function outcomeOf(answer: Answer): 'ok' | 'refused' {
  return answer.statuses.some((status) => status < 300) ? 'ok' : 'refused';
}
