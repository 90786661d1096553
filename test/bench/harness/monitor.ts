// A raw MONITOR connection (Bun's client cannot read MONITOR's stream): every command the server runs, with
// its timestamp, client address and arguments. The startup scenario waits for the worker's first fetch in
// it; the idle-traffic measurement counts, per command, what the worker sends and what runs inside scripts.
import { createConnection, type Socket } from "node:net";
import { within } from "./util";

export interface MonitorLine {
  ts: number; // epoch ms
  addr: string;
  command: string;
  rest: string;
}

const LINE = /^\+(\d+\.\d+) \[\d+ ([^\]]+)\] "((?:[^"\\]|\\.)*)"(.*)$/;

export class Monitor {
  private sock: Socket | null = null;
  private buf = "";
  lines: MonitorLine[] = [];
  private waiters: (() => void)[] = [];
  private started: () => void = () => {};

  /** keepRest = false drops the arguments (long with many queues) when only commands are counted. */
  constructor(private readonly keepRest = true) {}

  async open(port: number): Promise<void> {
    const sock = createConnection({ host: "127.0.0.1", port });
    this.sock = sock;
    sock.setEncoding("latin1");
    let started = false;
    const ready = new Promise<void>((r) => (this.started = () => ((started = true), r())));
    sock.on("data", (chunk: string) => this.onData(chunk));
    sock.on("error", () => {});
    sock.write("MONITOR\r\n");
    await within(ready, 5000);
    if (!started) throw new Error("MONITOR did not start");
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf("\r\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      if (line === "+OK") this.started();
      const m = LINE.exec(line);
      if (m) this.lines.push({ ts: Number(m[1]) * 1000, addr: m[2] as string, command: (m[3] as string).toUpperCase(), rest: this.keepRest ? (m[4] as string) : "" });
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `pred` matches a line (checked as lines arrive), up to timeoutMs. */
  async waitFor(pred: (l: MonitorLine) => boolean, timeoutMs: number): Promise<MonitorLine | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await within(new Promise<void>((r) => this.waiters.push(r)), left);
    }
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }
}
