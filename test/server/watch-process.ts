/** Starts `walship watch` as a user would and learns the listener's URL from its log. */
import { startCli } from "../helpers/cli.js";

export function startWatch(args: string[], env: NodeJS.ProcessEnv = {}) {
  const w = startCli(["watch", ...args], env);
  let log = "";
  const url = new Promise<string>((resolve, reject) => {
    w.child.stderr!.on("data", (d) => {
      log += d;
      const m = /listening url=(http:\/\/\S+)/.exec(log) ?? /"url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    });
    w.child.on("close", (code) => reject(new Error(`watch exited (${code}) before listening:\n${log}`)));
  });
  url.catch(() => {});
  return { ...w, url, log: () => log };
}
