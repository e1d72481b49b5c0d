import { readFileSync } from "node:fs";
import type { Command } from "./command.js";

export function walshipVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export const command: Command = {
  path: ["version"],
  summary: "print the version",
  usage: "walship version",
  async run(_args, io) {
    io.stdout.write(`walship ${walshipVersion()}\n`);
    return 0;
  },
};
