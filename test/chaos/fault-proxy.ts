/**
 * A fault-injecting HTTP proxy in front of a real S3 server, for the chaos harness. Requests are forwarded
 * byte for byte (headers included, so SigV4 signatures stay valid); from a seed, some are instead:
 *   reset       the connection is dropped before the request reaches the server
 *   lost-ack    the request reaches the server and succeeds, then the connection is dropped before the
 *               response: the client cannot know its write landed (the retry must be harmless)
 *   slowdown    503 SlowDown without forwarding
 *   internal    500 InternalError without forwarding
 *   truncate    the response body is cut short and the connection dropped
 *   latency     forwarded after a random delay
 * Every fault is logged with its sequence number, so a failing seed replays the same decisions.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { makeRandom } from "../helpers/random.js";

export type ProxyFault = "reset" | "lost-ack" | "slowdown" | "internal" | "truncate" | "latency";

export interface ProxyPlan {
  /** Probability per request of each fault (checked in this order; at most one per request). */
  rates: Partial<Record<ProxyFault, number>>;
  /** Upper bound (ms) of the injected latency. */
  maxLatencyMs: number;
}

export interface ProxyRecord {
  seq: number;
  fault: ProxyFault;
  method: string;
  path: string;
}

const ORDER: ProxyFault[] = ["reset", "lost-ack", "slowdown", "internal", "truncate", "latency"];

function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

export class FaultProxy {
  readonly faults: ProxyRecord[] = [];
  readonly counts: Record<ProxyFault, number> = {
    reset: 0,
    "lost-ack": 0,
    slowdown: 0,
    internal: 0,
    truncate: 0,
    latency: 0,
  };
  requests = 0;
  /** Requests the server is handling now, by "METHOD path". */
  readonly inFlight = new Set<string>();
  enabled = true;
  private server: Server | null = null;
  private readonly rnd: () => number;
  private seq = 0;
  private upstream = { host: "127.0.0.1", port: 0 };

  constructor(
    seed: number,
    readonly plan: ProxyPlan,
  ) {
    this.rnd = makeRandom(seed ^ 0x5eed);
  }

  async start(upstream: string): Promise<string> {
    const u = new URL(upstream);
    this.upstream = { host: u.hostname, port: Number(u.port) };
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private pick(): ProxyFault | null {
    if (!this.enabled) return null;
    for (const f of ORDER) {
      const p = this.plan.rates[f] ?? 0;
      if (p > 0 && this.rnd() < p) return f;
    }
    return null;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const fault = this.pick();
    const path = req.url ?? "/";
    if (fault) {
      this.counts[fault]++;
      this.faults.push({ seq: ++this.seq, fault, method: req.method ?? "", path });
    }
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    req.on("error", () => {});
    req.on("end", () => {
      if (fault === "reset") return req.socket.destroy();
      if (fault === "slowdown" || fault === "internal") {
        const [status, code] = fault === "slowdown" ? [503, "SlowDown"] : [500, "InternalError"];
        res.writeHead(status, { "content-type": "application/xml" });
        return res.end(s3Error(code, `injected by the chaos proxy (fault ${this.seq})`));
      }
      const delay = fault === "latency" ? Math.floor(this.rnd() * this.plan.maxLatencyMs) : 0;
      setTimeout(() => this.forward(req, res, Buffer.concat(body), fault), delay);
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer, fault: ProxyFault | null): void {
    const key = `${req.method} ${req.url}`;
    this.inFlight.add(key);
    const up = request(
      {
        host: this.upstream.host,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (ur) => {
        const chunks: Buffer[] = [];
        ur.on("data", (c: Buffer) => chunks.push(c));
        ur.on("error", () => res.socket?.destroy());
        ur.on("end", () => {
          this.inFlight.delete(key);
          if (fault === "lost-ack") return req.socket.destroy();
          const all = Buffer.concat(chunks);
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          if (fault === "truncate" && all.length > 1) {
            res.write(all.subarray(0, Math.floor(all.length / 2)));
            return res.socket?.destroy();
          }
          res.end(all);
        });
      },
    );
    up.on("error", () => {
      this.inFlight.delete(key);
      req.socket.destroy();
    });
    up.end(body);
  }
}
