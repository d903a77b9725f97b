import net from 'node:net';
import { encodeHeader, FrameDecoder, ProtocolError, type Frame, type FrameType } from './frame.js';

export interface ChannelEvents {
  frame(frame: Frame): void;
  /** The peer broke the protocol; the channel is already destroyed. */
  protocolError(error: ProtocolError): void;
  /** The socket closed (EOF, error or destroy); called once. */
  closed(reason: string): void;
}

/**
 * A framed channel over an inherited Unix socket. Frames written in one tick go out
 * in one writev: the socket is corked on the first write and uncorked on the next tick,
 * which keeps per-request syscalls off the hot path under load.
 */
export class Channel {
  private readonly socket: net.Socket;
  private readonly decoder: FrameDecoder;
  private corked = false;
  private closedReason: string | undefined;

  constructor(fd: number, maxPayload: number, private readonly events: ChannelEvents) {
    this.socket = new net.Socket({ fd, readable: true, writable: true });
    this.socket.setNoDelay?.(true);
    this.decoder = new FrameDecoder(maxPayload, (frame) => this.events.frame(frame));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => this.close(`socket error: ${error.message}`));
    this.socket.on('end', () => this.close('the worker closed its channel'));
    this.socket.on('close', () => this.close('the channel closed'));
  }

  get isOpen(): boolean {
    return this.closedReason === undefined;
  }

  /** The OS fd, for the rare writes that must carry an fd (SCM_RIGHTS). */
  get fd(): number {
    return (this.socket as unknown as { _handle: { fd: number } })._handle.fd;
  }

  /** True when nothing is queued in user space, so a direct sendmsg cannot overtake queued bytes. */
  get idle(): boolean {
    return this.socket.writableLength === 0 && !this.corked;
  }

  send(type: FrameType, id: number, ...parts: Uint8Array[]): void {
    if (this.closedReason !== undefined) return;
    let length = 0;
    for (const part of parts) length += part.length;
    this.cork();
    this.socket.write(encodeHeader(type, id, length));
    for (const part of parts) if (part.length > 0) this.socket.write(part);
  }

  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.socket.destroy();
    this.events.closed(reason);
  }

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (this.closedReason !== undefined) return;
      this.closedReason = `protocol error: ${error.message}`;
      this.socket.destroy();
      this.events.protocolError(error);
      this.events.closed(this.closedReason);
    }
  }
}
