// walship in the chaos harness: one Replicator (the library `watch` is built on) in its own process, run
// from the build (dist/, or WALSHIP_DIST) because a round lasts about a second and tsx alone would take
// that long to start. Config: the CHAOS_CHILD environment variable (child-config.ts). Lines on stdin
// "s <id>" ask for sync(); stdout answers "a <id> <txid hex>" (on the replica) or "e <id> <message>", and
// reports walship's events as "ev <type> ...".
//
// It can SIGKILL itself at a precise point inside walship (killAt: the nth time the point is reached): a
// real, uncatchable kill -9, at moments an external timer would rarely hit.
//   checkpoint  inside the checkpoint: barrier held, read mark released, before PRAGMA wal_checkpoint
//   barrier     right after taking SQLite's write lock as the checkpoint barrier
//   stage       while writing a staged LTX file (after its first chunk)
//   snapshot    halfway through reading the database image for a snapshot
//   upload      while the replica client reads the file it is sending
//   uploaded    after the replica stored a file, before walship recorded it
//   compact     while a compaction writes its output (a level 1..8 file)
import { createInterface } from "node:readline";

const dist = process.env.WALSHIP_DIST
  ? new URL(`file://${process.env.WALSHIP_DIST.replace(/\/?$/, "/")}`)
  : new URL("../../dist/", import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const [
  { DbConnection },
  { Db },
  { Staging },
  { FaultyReplicaClient },
  { FileReplicaClient },
  { S3ReplicaClient },
  { Replicator },
] = await Promise.all([
  load("db/connection.js"),
  load("db/db.js"),
  load("db/staging.js"),
  load("replica/faulty.js"),
  load("replica/file.js"),
  load("replica/s3/client.js"),
  load("replicator.js"),
]);

const cfg = JSON.parse(process.env.CHAOS_CHILD ?? "{}");
const say = (line) => process.stdout.write(`${line}\n`);

let reached = 0;
function maybeDie(point) {
  if (cfg.killAt?.point !== point) return;
  if (++reached < cfg.killAt.nth) return;
  say(`ev dying ${point}`);
  process.kill(process.pid, "SIGKILL");
}

function installKillPoints() {
  const point = cfg.killAt?.point;
  if (point === "checkpoint") {
    const orig = DbConnection.prototype.checkpoint;
    DbConnection.prototype.checkpoint = function (mode) {
      maybeDie("checkpoint");
      return orig.call(this, mode);
    };
  } else if (point === "barrier") {
    const orig = DbConnection.prototype.takeBarrier;
    DbConnection.prototype.takeBarrier = function () {
      orig.call(this);
      maybeDie("barrier");
    };
  } else if (point === "stage") {
    const orig = Staging.prototype.write;
    Staging.prototype.write = function (min, max, chunks) {
      async function* after1() {
        let i = 0;
        for await (const c of chunks) {
          if (i++ === 1) maybeDie("stage");
          yield c;
        }
      }
      return orig.call(this, min, max, after1());
    };
  } else if (point === "snapshot") {
    const orig = Db.prototype.imageSource;
    Db.prototype.imageSource = async function () {
      const src = await orig.call(this);
      const pages = src.pages.bind(src);
      src.pages = async function* () {
        let i = 0;
        for await (const p of pages()) {
          if (++i > src.commit / 2) maybeDie("snapshot");
          yield p;
        }
      };
      return src;
    };
  }
}

async function* dyingStream(body, point) {
  const chunks = body instanceof Uint8Array ? [body] : body;
  for await (const c of chunks) {
    maybeDie(point);
    yield c;
  }
}

/** The replica-side kill points, around any client. */
function dying(inner) {
  return {
    type: inner.type,
    location: inner.location,
    inner,
    get requests() {
      return inner.requests;
    },
    list: (l, o) => inner.list(l, o),
    open: (l, a, b, o) => inner.open(l, a, b, o),
    delete: (f, o) => inner.delete(f, o),
    close: () => inner.close(),
    async write(level, min, max, data, opts) {
      const compaction = level >= 1 && level <= 8;
      const point = compaction ? "compact" : "upload";
      await inner.write(level, min, max, cfg.killAt?.point === point ? dyingStream(data, point) : data, opts);
      if (!compaction) maybeDie("uploaded");
    },
  };
}

const r = cfg.replica;
const client = dying(
  r.s3 ? new S3ReplicaClient(r.s3) : new FaultyReplicaClient(new FileReplicaClient(r.dir), r.seed, r.faults),
);
installKillPoints();
const rep = new Replicator({
  db: cfg.db,
  replica: client,
  syncIntervalMs: cfg.syncIntervalMs,
  minCheckpointPages: cfg.minCheckpointPages,
  checkpointIntervalMs: cfg.checkpointIntervalMs,
  snapshotIntervalMs: cfg.snapshotIntervalMs,
  truncatePages: cfg.truncatePages,
  maintenance: cfg.compaction
    ? {
        levels: [
          { level: 1, intervalMs: 1_000 },
          { level: 2, intervalMs: 3_000 },
        ],
        retention: false,
      }
    : false,
  onEvent: (e) => {
    if (e.type === "error")
      say(`ev error ${e.fatal ? "fatal" : "retry"} ${e.error.code} ${e.error.message.replace(/\n/g, " ")}`);
    else if (e.type === "maintenance") {
      const detail =
        e.event?.type === "error" ? ` ${String(e.event.error?.message ?? "").replace(/\n/g, " ")}` : "";
      say(`ev maintenance ${e.event?.type ?? ""}${detail}`);
    } else say(`ev ${e.type}${e.type === "checkpointed" ? ` ${e.mode}` : ""}`);
  },
});

try {
  await rep.start();
} catch (e) {
  say(`ev start-failed ${String(e?.message ?? e).replace(/\n/g, " ")}`);
  process.exit(3);
}
say("ready");
// Faults injected in this process (directory replicas), reported as they happen: a SIGKILL loses nothing.
const faulty = client.inner instanceof FaultyReplicaClient ? client.inner : null;
let reported = 0;
setInterval(() => {
  const f = faulty?.faults ?? [];
  for (; reported < f.length; reported++) say(`ev fault ${f[reported].kind}`);
}, 50).unref();
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const [cmd, id] = line.split(" ");
  if (cmd !== "s" || !id) return;
  rep.sync({ timeoutMs: 5_000 }).then(
    (txid) => say(`a ${id} ${txid.toString(16)}`),
    (e) => say(`e ${id} ${String(e?.message ?? e).replace(/\n/g, " ")}`),
  );
});
rl.on("close", () => {
  rep
    .close({ deadlineMs: 5_000 })
    .then((ok) => say(`closed ${ok}`))
    .finally(() => process.exit(0));
});
