/** Facts about the machine and the software, recorded with every result. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from "node:os";
import { versitygwPath } from "../../test/helpers/s3-server.js";
import { freezeWalshipDist, repoRoot, toolVersions } from "./tools.js";

export interface MachineFacts {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  versions: Record<string, string>;
  gitRevision: string;
  /** Hash of the dist/*.js files the walship runs used (a frozen copy; see tools.ts freezeWalshipDist). */
  walshipDist: string;
  gitDirty: boolean;
  loadAverageAtStart: number[];
  date: string;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "";
  }
}

export async function machineFacts(): Promise<MachineFacts> {
  const walshipDist = freezeWalshipDist();
  const versions = await toolVersions();
  const gw = sh(versitygwPath(), ["--version"]);
  const goMod = sh("go", ["version", "-m", versitygwPath()]);
  versions.versitygw =
    /\tmod\tgithub\.com\/versity\/versitygw\t(\S+)/.exec(goMod)?.[1] ?? (gw.split("\n")[0] || "unknown");
  let sqlite = "";
  try {
    const pkg = JSON.parse(readFileSync(`${repoRoot}/node_modules/better-sqlite3/package.json`, "utf8")) as {
      version: string;
    };
    sqlite = pkg.version;
  } catch {}
  versions["better-sqlite3"] = sqlite;
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    versions,
    gitRevision: sh("git", ["rev-parse", "--short", "HEAD"]),
    walshipDist,
    gitDirty: sh("git", ["status", "--porcelain", "--untracked-files=no", "src"]) !== "",
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
  };
}
