// The byte channel to the core: private copies of the real stdin/stdout, newline framing.
//
// claimStdio() runs before any user code so nothing can reach the protocol streams. Node has
// no dup2, but opening /dev/fd/N gives a new descriptor for the same pipe, and POSIX hands out
// the lowest free descriptor: so "open /dev/fd/1, close 1, open /dev/fd/2" leaves the protocol
// on a private fd and makes fd 1 itself a copy of stderr. That catches console.log,
// process.stdout.write, child processes with inherited stdio and native code alike. fd 0 gets
// the same treatment (pointed at /dev/null) so a child process cannot swallow protocol input.
// Where /dev/fd cannot be opened (stdio on sockets), user-level output is redirected instead.

import fs from 'node:fs';
import net from 'node:net';

const NEWLINE = 0x0a;

function reopen(fd, flags) {
  try {
    return fs.openSync(`/dev/fd/${fd}`, flags);
  } catch {
    return null;
  }
}

/**
 * Take the real stdin/stdout for the protocol. Returns {inFd, out}: `out` is {fd} normally, or
 * {stream, write} (process.stdout and its original write) in the fallback.
 */
export function claimStdio() {
  // A regular file reopened gets an offset of its own, which would clobber other writers: only
  // pipes and terminals (what the core and a person at a shell use) are reopened.
  const kind = fs.fstatSync(1);
  const probe = kind.isFIFO() || kind.isCharacterDevice() ? reopen(2, 'a') : null;
  const outFd = probe === null ? null : reopen(1, 'w');
  const inFd = outFd === null ? null : reopen(0, 'r');
  for (const fd of [probe, outFd === null || inFd === null ? outFd : null]) {
    if (fd !== null) fs.closeSync(fd);
  }
  if (outFd === null || inFd === null) {
    // Fallback: fd 1 stays the protocol's, and user-level writes to stdout go to stderr.
    const stream = process.stdout;
    const write = stream.write.bind(stream);
    stream.write = process.stderr.write.bind(process.stderr);
    return { inFd: 0, out: { stream, write } };
  }
  fs.closeSync(1);
  const newOne = reopen(2, 'a') ?? fs.openSync('/dev/null', 'w'); // never leave fd 1 free
  fs.closeSync(0);
  const newZero = fs.openSync('/dev/null', 'r');
  if (newOne !== 1 || newZero !== 0) {
    process.stderr.write(`motia-node-runner: could not re-point stdio (got fds ${newOne}, ${newZero})\n`);
  }
  return { inFd, out: { fd: outFd } };
}

function openStream(fd, readable) {
  const stat = fs.fstatSync(fd);
  if (stat.isFIFO() || stat.isSocket()) {
    return new net.Socket({ fd, readable, writable: !readable });
  }
  return readable ? fs.createReadStream(null, { fd, highWaterMark: 64 * 1024 })
    : fs.createWriteStream(null, { fd });
}

/** Writes whole messages in order; messages queued in one tick go out in one write. */
export class Writer {
  constructor(out, onBroken) {
    this.stream = out.stream ?? openStream(out.fd, false);
    this.writeRaw = out.write ?? ((data) => this.stream.write(data));
    // A pipe or socket (non-blocking under libuv): written straight from here while the stream
    // holds nothing back; the stream's machinery (a write request, a nextTick per write) is only
    // for what the pipe does not take at once.
    if (out.write === undefined && this.stream instanceof net.Socket) {
      this.writeRaw = (data) => this.writeDirect(out.fd, data);
    }
    this.queue = [];
    this.scheduled = false;
    this.broken = false;
    this.stream.on('error', () => {
      if (!this.broken) {
        this.broken = true;
        onBroken();
      }
    });
  }

  /** Queue one framed message (a string ending in a newline). */
  write(line) {
    if (this.broken) return;
    this.queue.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush() {
    this.scheduled = false;
    if (this.queue.length === 0 || this.broken) return;
    const data = this.queue.length === 1 ? this.queue[0] : this.queue.join('');
    this.queue = [];
    this.writeRaw(data);
  }

  writeDirect(fd, data) {
    if (this.stream.writableLength === 0) {
      let written;
      try {
        written = fs.writeSync(fd, data);
      } catch (error) {
        if (error.code !== 'EAGAIN') {
          this.stream.destroy(error); // the core is gone: the stream's 'error' says so
          return;
        }
        written = 0;
      }
      if (written === Buffer.byteLength(data, 'utf8')) return;
      this.stream.write(Buffer.from(data, 'utf8').subarray(written));
      return;
    }
    this.stream.write(data);
  }

  /** Write out what is queued, end the stream and wait until the OS has it; used right before
   * exiting. */
  close() {
    this.flush();
    return new Promise((resolve) => {
      if (this.broken) {
        resolve();
        return;
      }
      this.stream.once('error', resolve);
      this.stream.end(resolve);
    });
  }
}

/** Splits the protocol input into lines and enforces the per-line byte limit. */
export class LineReader {
  constructor(fd, { onLine, onOversized, onEof }) {
    this.maxBytes = 16 * 1024 * 1024;
    this.onLine = onLine;
    this.onOversized = onOversized;
    this.onEof = onEof;
    this.parts = [];
    this.size = 0;
    this.skip = null; // {head, tail, size} of a line over the limit
    this.stopped = false;
    this.stream = openStream(fd, true);
    this.stream.on('data', (chunk) => this.feed(chunk));
    this.stream.on('end', () => this.eof());
    this.stream.on('error', () => this.eof());
  }

  stop() {
    this.stopped = true;
    this.stream.pause();
  }

  eof() {
    if (!this.stopped) {
      this.stopped = true;
      this.onEof();
    }
  }

  feed(chunk) {
    let start = 0;
    while (!this.stopped) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skip !== null) {
        this.addSkipped(piece);
        const skipped = this.skip;
        this.skip = null;
        this.onOversized(skipped);
        continue;
      }
      let line = piece;
      if (this.parts.length > 0) {
        this.parts.push(piece);
        line = Buffer.concat(this.parts);
        this.parts = [];
        this.size = 0;
      }
      if (line.length > this.maxBytes) {
        this.onOversized({ head: line.subarray(0, HEAD), tail: line.subarray(-TAIL), size: line.length });
      } else if (line.length > 0 && !isBlank(line)) {
        this.onLine(line);
      }
    }
    if (start < chunk.length && !this.stopped) this.carry(chunk.subarray(start));
  }

  carry(piece) {
    if (this.skip !== null) {
      this.addSkipped(piece);
      return;
    }
    // Copied: the stream may reuse the chunk's memory.
    this.parts.push(Buffer.from(piece));
    this.size += piece.length;
    if (this.size > this.maxBytes) {
      const whole = Buffer.concat(this.parts);
      this.parts = [];
      this.size = 0;
      this.skip = { head: whole.subarray(0, HEAD), tail: whole.subarray(-TAIL), size: whole.length };
    }
  }

  addSkipped(piece) {
    const skip = this.skip;
    if (skip.head.length < HEAD) {
      skip.head = Buffer.concat([skip.head, piece.subarray(0, HEAD - skip.head.length)]);
    }
    skip.tail = Buffer.concat([skip.tail, piece.subarray(-TAIL)]).subarray(-TAIL);
    skip.size += piece.length;
  }
}

const HEAD = 64 * 1024;
const TAIL = 4 * 1024;

function isBlank(line) {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}
