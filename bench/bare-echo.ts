// The baseline for the warm-path benchmark: a bare Node http server that answers every
// request with its body, as the echo function does. Usage: node bare-echo.js PORT
import http from 'node:http';

const port = Number(process.argv[2]);
http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
  })
  .listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
