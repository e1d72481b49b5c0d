/**
 * One HTTP listener for operators: /metrics (Prometheus), /health (JSON, 200/503), the dashboard at /
 * and the JSON it reads (/api/status, /api/ltx?db=). Read-only: every route is GET or HEAD. It binds
 * 127.0.0.1 unless the configuration names another address.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WalshipError } from "../errors.js";
import type { DatabaseView } from "../store.js";
import { statusJson } from "./api.js";
import { DASHBOARD_HTML } from "./dashboard.js";
import { assess, httpStatusFor } from "./health.js";
import type { LtxCache } from "./ltx-cache.js";
import type { MetricsSink } from "./metrics.js";

/** The page is self-contained: it may only talk back to this listener. */
const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

export interface ServerDeps {
  views(): DatabaseView[];
  metrics: MetricsSink;
  ltx: LtxCache;
  now?: () => number;
}

export interface RunningServer {
  /** "http://127.0.0.1:16767" */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, req: IncomingMessage, code: number, type: string, body: string): void {
  res.writeHead(code, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...(type.startsWith("text/html") ? { "content-security-policy": PAGE_CSP } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

function json(res: ServerResponse, req: IncomingMessage, code: number, value: unknown): void {
  send(res, req, code, "application/json; charset=utf-8", `${JSON.stringify(value, null, 1)}\n`);
}

async function route(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const now = (deps.now ?? Date.now)();
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return json(res, req, 405, { error: "method not allowed" });
  }
  const url = new URL(req.url ?? "/", "http://localhost");
  switch (url.pathname) {
    case "/metrics":
      return send(
        res,
        req,
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        deps.metrics.render(deps.views()),
      );
    case "/health": {
      const h = assess(deps.views(), now);
      return json(res, req, httpStatusFor(h.status), h);
    }
    case "/api/status":
      return json(res, req, 200, statusJson(deps.views(), now));
    case "/api/ltx": {
      const db = url.searchParams.get("db");
      const view = deps.views().find((v) => v.db === db);
      if (!view) return json(res, req, 404, { error: `no database ${JSON.stringify(db)}` });
      return json(res, req, 200, await deps.ltx.get(view.db, view.client));
    }
    case "/":
    case "/index.html":
      return send(res, req, 200, "text/html; charset=utf-8", DASHBOARD_HTML);
    default:
      return json(res, req, 404, {
        error: "not found",
        routes: ["/", "/metrics", "/health", "/api/status", "/api/ltx?db="],
      });
  }
}

export function startServer(host: string, port: number, deps: ServerDeps): Promise<RunningServer> {
  const server = createServer((req, res) => {
    route(deps, req, res).catch((e) => {
      if (!res.headersSent) json(res, req, 500, { error: e instanceof Error ? e.message : String(e) });
      else res.destroy();
    });
  });
  // Scrapes are short; do not let idle keep-alive sockets pin the process at shutdown.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      const addr = `${host}:${port}`;
      reject(
        new WalshipError("config", `cannot listen on ${addr}: ${e.code ?? e.message}`, {
          op: "metrics listener",
          context: { key: "metrics.addr" },
          hint:
            e.code === "EADDRINUSE"
              ? "another process uses that port: set [metrics] addr / --metrics-addr, or --no-metrics"
              : "check [metrics] addr / --metrics-addr",
          cause: e,
        }),
      );
    });
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${shown}:${a.port}`,
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
