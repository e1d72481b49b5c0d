/**
 * Who holds a lease, and whether a holder on this machine is still alive. On Linux a process is named by
 * boot id, pid namespace, pid and start time: the pid alone is reused, and containers on one host share a
 * hostname (host networking) but not a pid namespace, so anything less could declare a live holder dead.
 * Elsewhere no liveness is claimed and an abandoned lease is taken over only after its TTL.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

export interface Identity {
  owner: string;
  instance: string;
  process: string | undefined;
}

function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
}

/**
 * Field 22 of /proc/<pid>/stat (clock ticks since boot), or undefined when the process is gone or a zombie
 * (killed but not yet reaped by its parent: it holds nothing any more). The comm field may contain spaces
 * and ")", hence the split after the last ")".
 */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** "<boot id>|<pid ns>|<pid>|<start ticks>", or undefined off Linux. */
export function processTag(pid = process.pid): string | undefined {
  const boot = bootId();
  const ns = pidNamespace();
  const start = processStartTicks(pid);
  if (!boot || !ns || !start) return undefined;
  return `${boot}|${ns}|${pid}|${start}`;
}

export function newIdentity(owner?: string): Identity {
  return {
    owner: owner ?? `${hostname()}:${process.pid}`,
    instance: randomBytes(8).toString("hex"),
    process: processTag(),
  };
}

/** The pid and start time a tag names, when it was written on this machine in this pid namespace. */
function localHolder(tag: string | undefined): { pid: number; start: string } | null {
  if (!tag) return null;
  const [boot, ns, pidText, start] = tag.split("|");
  if (!boot || !ns || !pidText || !start) return null;
  if (boot !== bootId() || ns !== pidNamespace()) return null;
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  return { pid, start };
}

/**
 * True only when the holder provably ran on this machine, in this pid namespace, and that process is gone
 * (its pid is free or now belongs to a process that started at another time).
 */
export function holderIsDeadHere(tag: string | undefined): boolean {
  const h = localHolder(tag);
  if (!h) return false;
  const now = processStartTicks(h.pid);
  return now === undefined || now !== h.start;
}

/**
 * True when the tag names another process that is running now on this machine (same boot and pid
 * namespace). This process itself does not count: its own instances are told apart by instance id.
 */
export function holderIsAliveHere(tag: string | undefined): boolean {
  const h = localHolder(tag);
  return h !== null && h.pid !== process.pid && processStartTicks(h.pid) === h.start;
}
