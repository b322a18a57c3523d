// Connects N live seat-map viewers to one event and reports how long until
// every one has its whole first snapshot, the bytes received, and the
// server's resident memory (from /proc) with all of them connected.
// A bare RFC 6455 client on node:net, so nothing is installed for it.
// Usage: node end2end/bench/live_viewers.mjs http://127.0.0.1:3000 EVENT_ID VIEWERS json|compact SERVER_PID
import net from "node:net";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

const [base = "http://127.0.0.1:3000", eventId, count = "1000", format = "compact", pid] = process.argv.slice(2);
const { hostname, port } = new URL(base);
if (!/^(127\.\d+\.\d+\.\d+|localhost)$/.test(hostname)) throw new Error("loopback only");
const path = `/api/events/${eventId}/live${format === "compact" ? "?format=compact" : ""}`;
const viewers = Number(count);

function rss() {
  if (!pid) return null;
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line.split(/\s+/)[1]) / 1024);
}

// Resolves with the bytes received once the first message is complete.
function viewer(sockets) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port || 80), hostname);
    sockets.push(socket);
    let buffer = Buffer.alloc(0), upgraded = false, received = 0, done = false;
    socket.on("connect", () => socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    socket.on("data", (chunk) => {
      received += chunk.length;
      if (done) return;
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!buffer.subarray(0, 12).toString().includes("101")) return reject(new Error(buffer.toString()));
        upgraded = true;
        buffer = buffer.subarray(end + 4);
      }
      // Walk the frames; the first message ends at a data frame with FIN.
      while (buffer.length >= 2) {
        const fin = (buffer[0] & 0x80) !== 0, opcode = buffer[0] & 0x0f;
        let length = buffer[1] & 0x7f, offset = 2;
        if (length === 126) { if (buffer.length < 4) return; length = buffer.readUInt16BE(2); offset = 4; }
        else if (length === 127) { if (buffer.length < 10) return; length = Number(buffer.readBigUInt64BE(2)); offset = 10; }
        if (buffer.length < offset + length) return;
        buffer = buffer.subarray(offset + length);
        if (fin && opcode !== 0x9 && opcode !== 0xa) { done = true; buffer = Buffer.alloc(0); return resolve(received); }
      }
    });
    socket.on("error", reject);
  });
}

const sockets = [];
const start = Date.now();
const pending = [];
for (let i = 0; i < viewers; i++) {
  pending.push(viewer(sockets));
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 10));
}
const bytes = await Promise.all(pending);
const allConnectedMs = Date.now() - start;
await new Promise((r) => setTimeout(r, 1000));
const report = {
  format, viewers, all_snapshots_in_ms: allConnectedMs,
  bytes_per_viewer: Math.round(bytes.reduce((a, b) => a + b, 0) / viewers),
  server_rss_mib: rss(),
};
for (const socket of sockets) socket.destroy();
console.log(JSON.stringify(report, null, 2));
