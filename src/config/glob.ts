/**
 * Database globs such as /data/*.db or /srv/tenants/ * /app.db (no spaces): `*` and `?` within one path
 * segment, `[abc]`/`[!abc]` classes, and `**` for any depth. As in a shell, wildcards do not match names
 * that start with a dot (walship's own meta directories are dot-named). SQLite's side files (-wal, -shm,
 * -journal) never match.
 */
import { type Dirent, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";

const MAGIC_RE = /[*?[]/;
const SIDE_FILE_RE = /-(wal|shm|journal)$/;

/** The fixed directory a glob starts from; replicas of matches are named by their path below it. */
export function globBase(pattern: string): string {
  const parts = pattern.split(sep);
  const i = parts.findIndex((p) => MAGIC_RE.test(p));
  return i < 0 ? pattern : parts.slice(0, i).join(sep) || sep;
}

/** Path of a match below its glob's base, e.g. "a.db" or "tenant1/app.db". */
export function globRelative(pattern: string, match: string): string {
  return relative(globBase(pattern), match);
}

function segmentRegExp(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith("!")) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isDir(dir: string, e: Dirent): boolean {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  try {
    return statSync(join(dir, e.name)).isDirectory();
  } catch {
    return false;
  }
}

function isFile(dir: string, e: Dirent): boolean {
  if (e.isFile()) return true;
  if (!e.isSymbolicLink()) return false;
  try {
    return statSync(join(dir, e.name)).isFile();
  } catch {
    return false;
  }
}

/** Regular files matching the pattern (absolute), sorted. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const base = globBase(pattern);
  const rest = relative(base, pattern).split(sep).filter(Boolean);
  const out = new Set<string>();
  await walk(base, rest, out);
  return [...out].sort();
}

async function walk(dir: string, segs: string[], out: Set<string>): Promise<void> {
  const [seg, ...more] = segs;
  if (seg === undefined) return;
  if (seg === "**") {
    await walk(dir, more, out);
    for (const e of await entries(dir)) {
      if (!e.name.startsWith(".") && isDir(dir, e)) await walk(join(dir, e.name), segs, out);
    }
    return;
  }
  if (!MAGIC_RE.test(seg)) {
    if (more.length === 0) {
      for (const e of await entries(dir)) if (e.name === seg && isFile(dir, e)) out.add(join(dir, seg));
    } else await walk(join(dir, seg), more, out);
    return;
  }
  const re = segmentRegExp(seg);
  for (const e of await entries(dir)) {
    if (!re.test(e.name) || (e.name.startsWith(".") && !seg.startsWith("."))) continue;
    if (more.length === 0) {
      if (!SIDE_FILE_RE.test(e.name) && isFile(dir, e)) out.add(join(dir, e.name));
    } else if (isDir(dir, e)) await walk(join(dir, e.name), more, out);
  }
}
