/**
 * The tools under test, run as separate processes so their RSS and CPU can be read from /proc:
 *
 * - walship: `node dist/cli/main.js watch --config walship.toml --sync-interval X --snapshot-interval 24h`
 *   (the CLI as users run it; `npm run build` first), the config listing the databases and one
 *   compaction level of 24h.
 * - Litestream v0.5.17: `litestream replicate -config <yaml>` with one `dbs:` entry per database,
 *   monitor-interval = sync-interval = X, snapshot interval 24h (its default) and compaction levels
 *   pushed to 24h, so that neither tool compacts during a run (see docs/performance.md).
 *
 * Both get the same S3 endpoint (the counting proxy), bucket, credentials and one replica path per
 * database (db-0000, db-0001, ...). Restores use each tool's own CLI.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { litestreamEnv, toYaml } from "../../test/helpers/litestream.js";
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from "../../test/helpers/s3-server.js";
import { formatMs, type ToolName } from "./config.js";

export const repoRoot = join(import.meta.dirname, "..", "..");
/** The walship CLI this run uses: a frozen copy of dist/ (see freezeWalshipDist), else dist/ itself. */
export let walshipCli = join(repoRoot, "dist", "cli", "main.js");

/**
 * Copies dist/ to a temp folder named by a hash of its contents and runs walship from there, so that a
 * rebuild of dist/ during a run (the repo is shared) cannot change the code under test halfway. The copy
 * gets the repo's package.json and a link to its node_modules. Returns the hash (recorded with results).
 */
export function freezeWalshipDist(): string {
  const pinned = process.env.WALSHIP_BENCH_DIST;
  if (pinned) {
    // A frozen copy from an earlier run (e.g. /tmp/walship-bench-dist-<hash>), to re-run a cell on the same build.
    walshipCli = join(pinned, "dist", "cli", "main.js");
    if (!existsSync(walshipCli)) throw new Error(`WALSHIP_BENCH_DIST: ${walshipCli} is missing`);
    return basename(pinned).replace(/^walship-bench-dist-/, "");
  }
  const dist = join(repoRoot, "dist");
  if (!existsSync(join(dist, "cli", "main.js")))
    throw new Error(`${dist}/cli/main.js is missing: run npm run build first`);
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".js")) h.update(p.slice(dist.length)).update(readFileSync(p));
    }
  };
  walk(dist);
  const hash = h.digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `walship-bench-dist-${hash}`);
  if (!existsSync(join(dir, "dist", "cli", "main.js"))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    cpSync(dist, join(tmp, "dist"), { recursive: true });
    cpSync(join(repoRoot, "package.json"), join(tmp, "package.json"));
    symlinkSync(join(repoRoot, "node_modules"), join(tmp, "node_modules"));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  walshipCli = join(dir, "dist", "cli", "main.js");
  return hash;
}
export const litestreamBin = process.env.WALSHIP_PEERS_BIN
  ? join(process.env.WALSHIP_PEERS_BIN, "litestream")
  : join(repoRoot, ".peers", "bin", "litestream");

/** walrust (crates.io, optional): `cargo install walrust`, then put the binary here or set WALSHIP_WALRUST. */
export const walrustBin =
  process.env.WALSHIP_WALRUST ??
  (process.env.WALSHIP_PEERS_BIN
    ? join(process.env.WALSHIP_PEERS_BIN, "walrust")
    : join(repoRoot, ".peers", "bin", "walrust"));

export const S3_ENV = {
  AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
  LITESTREAM_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
  LITESTREAM_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
};

export function replicaPath(i: number): string {
  return `db-${String(i).padStart(4, "0")}`;
}

export function s3Url(bucket: string, path: string, endpoint: string): string {
  return `s3://${bucket}/${path}?endpoint=${endpoint}&region=us-east-1`;
}

export interface ToolProcess {
  tool: ToolName;
  child: ChildProcess;
  pid: number;
  /** The full command line (for the results). */
  command: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logTail(): string;
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export function launch(
  tool: ToolName,
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
): ToolProcess {
  const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(logFile);
  let tail = "";
  const keep = (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString("utf8")).slice(-8000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      log.end();
      resolve({ code, signal });
    });
  });
  return {
    tool,
    child,
    pid: child.pid!,
    command: [bin, ...args],
    exited,
    logTail: () => tail,
    async stop(timeoutMs = 120_000) {
      const t0 = Date.now();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        const r = await exited;
        clearTimeout(t);
        return { ...r, ms: Date.now() - t0 };
      }
      return { ...(await exited), ms: 0 };
    },
  };
}

export interface ToolRunOptions {
  dbs: string[];
  bucket: string;
  endpoint: string;
  syncIntervalMs: number;
  workDir: string;
  /** Replica path of each database (default db-0000, db-0001, ...). */
  paths?: string[];
}

function pathOf(o: ToolRunOptions, i: number): string {
  return o.paths?.[i] ?? replicaPath(i);
}

/**
 * walship's databases and its compaction levels, in a config file: compaction has no flag, and Litestream
 * runs with its one level pushed to 24 h (litestreamConfig), so walship gets the same one level rather
 * than its 30 s / 5 min / 1 h defaults, and neither tool compacts during a run.
 */
function walshipConfig(o: ToolRunOptions): string {
  const lines = ["[compaction]", 'levels = ["24h"]', ""];
  for (const [i, db] of o.dbs.entries()) {
    lines.push("[[databases]]", `path = ${JSON.stringify(db)}`);
    lines.push(`replica = ${JSON.stringify(s3Url(o.bucket, pathOf(o, i), o.endpoint))}`, "");
  }
  return lines.join("\n");
}

export function startWalship(o: ToolRunOptions): ToolProcess {
  if (!existsSync(walshipCli)) throw new Error(`${walshipCli} is missing: run npm run build first`);
  const cfg = join(o.workDir, "walship.toml");
  writeFileSync(cfg, walshipConfig(o));
  const args = [walshipCli, "watch", "--config", cfg];
  args.push(
    "--sync-interval",
    formatMs(o.syncIntervalMs),
    "--snapshot-interval",
    "24h",
    "--log-level",
    "warn",
    "--shutdown-timeout",
    "60s",
  );
  // Newer builds serve metrics and a dashboard by default; Litestream runs without its metrics server.
  if (watchHelp().includes("--no-metrics")) args.push("--no-metrics");
  return launch(
    "walship",
    process.execPath,
    args,
    { ...process.env, ...S3_ENV },
    join(o.workDir, "walship.log"),
  );
}

let helpCache: { cli: string; text: string } | null = null;

/** `walship watch --help` of the CLI under test (to pass only flags that build knows). */
function watchHelp(): string {
  if (helpCache?.cli !== walshipCli) {
    const r = spawnSync(process.execPath, [walshipCli, "watch", "--help"], { encoding: "utf8" });
    helpCache = { cli: walshipCli, text: `${r.stdout ?? ""}${r.stderr ?? ""}` };
  }
  return helpCache.text;
}

export function litestreamConfig(o: ToolRunOptions): Record<string, unknown> {
  const every = formatMs(o.syncIntervalMs);
  return {
    logging: { level: "warn" },
    levels: [{ interval: "24h" }],
    snapshot: { interval: "24h", retention: "24h" },
    dbs: o.dbs.map((db, i) => ({
      path: db,
      "monitor-interval": every,
      replica: {
        type: "s3",
        bucket: o.bucket,
        path: pathOf(o, i),
        endpoint: o.endpoint,
        region: "us-east-1",
        "force-path-style": true,
        "access-key-id": TEST_ACCESS_KEY_ID,
        "secret-access-key": TEST_SECRET_ACCESS_KEY,
        "sync-interval": every,
      },
    })),
  };
}

export function startLitestream(o: ToolRunOptions): ToolProcess {
  const cfg = join(o.workDir, "litestream.yml");
  writeFileSync(cfg, toYaml(litestreamConfig(o)));
  return launch(
    "litestream",
    litestreamBin,
    ["replicate", "-config", cfg],
    litestreamEnv(S3_ENV),
    join(o.workDir, "litestream.log"),
  );
}

/**
 * walrust 0.7 (optional third tool): `walrust watch <db>... -b s3://<bucket> --endpoint X
 * --wal-sync-interval <s> --snapshot-interval 86400`. It names a database's replica folder after the file
 * stem, so the databases (db-0000.db, ...) land under the same paths as the other tools'. Its sync
 * interval is whole seconds; it logs at warn (RUST_LOG) like the others.
 */
export function startWalrust(o: ToolRunOptions): ToolProcess {
  if (o.paths) throw new Error("walrust: custom replica paths are not supported (it uses the file stem)");
  const args = ["watch", ...o.dbs, "-b", `s3://${o.bucket}`, "--endpoint", o.endpoint];
  args.push("--wal-sync-interval", String(Math.max(1, Math.round(o.syncIntervalMs / 1000))));
  args.push("--snapshot-interval", "86400");
  return launch(
    "walrust",
    walrustBin,
    args,
    { ...process.env, ...S3_ENV, AWS_REGION: "us-east-1", RUST_LOG: "warn", NO_COLOR: "1" },
    join(o.workDir, "walrust.log"),
  );
}

export function startTool(tool: ToolName, o: ToolRunOptions): ToolProcess {
  if (tool === "walrust") return startWalrust(o);
  return tool === "walship" ? startWalship(o) : startLitestream(o);
}

/** Whether a tool's binary is installed (walrust is optional). */
export function toolAvailable(tool: ToolName): boolean {
  return tool === "walrust" ? existsSync(walrustBin) : true;
}

/** The restore command of `tool` for replica `url` into `out`. */
export function restoreCommand(
  tool: ToolName,
  url: string,
  out: string,
): { bin: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (tool === "walrust") {
    // walrust restores by name from a bucket: s3://<bucket>/<name>?endpoint=<e>&... -> name, bucket, endpoint.
    const u = new URL(url);
    return {
      bin: walrustBin,
      args: [
        "restore",
        u.pathname.slice(1),
        "-o",
        out,
        "-b",
        `s3://${u.host}`,
        "--endpoint",
        u.searchParams.get("endpoint") ?? "",
      ],
      env: { ...process.env, ...S3_ENV, AWS_REGION: "us-east-1", RUST_LOG: "warn", NO_COLOR: "1" },
    };
  }
  return tool === "walship"
    ? {
        bin: process.execPath,
        args: [walshipCli, "restore", url, "-o", out],
        env: { ...process.env, ...S3_ENV },
      }
    : { bin: litestreamBin, args: ["restore", "-o", out, url], env: litestreamEnv(S3_ENV) };
}

export async function toolVersions(): Promise<Record<string, string>> {
  const run = (bin: string, args: string[], env?: NodeJS.ProcessEnv) =>
    new Promise<string>((resolve) => {
      const c = spawn(bin, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      c.stdout!.on("data", (d) => (out += d));
      c.stderr!.on("data", (d) => (out += d));
      c.on("close", () => resolve(out.trim().split("\n")[0] ?? ""));
      c.on("error", () => resolve("unavailable"));
    });
  return {
    walship: existsSync(walshipCli)
      ? (await run(process.execPath, [walshipCli, "version"])).replace(/^walship /, "")
      : "not built",
    litestream: await run(litestreamBin, ["version"], litestreamEnv({})),
    walrust: existsSync(walrustBin)
      ? (await run(walrustBin, ["--version"])).replace(/^walrust /, "")
      : "not installed",
  };
}
