/**
 * Where S3 credentials come from, in Litestream's order (litestream-v05.md §12):
 *   1. explicit options (config file / URL factory overrides);
 *   2. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   3. LITESTREAM_ACCESS_KEY_ID + LITESTREAM_SECRET_ACCESS_KEY;
 *   4. the AWS shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), profile
 *      AWS_PROFILE or "default".
 * Not supported yet: EC2/ECS instance roles (IMDS), web identity tokens, SSO and credential_process.
 * On a machine that relies on those, export the variables in (2) instead.
 */

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { WalshipError } from "../../errors.js";
import type { Credentials } from "./signer.js";

export type Env = Record<string, string | undefined>;

export interface ResolvedCredentials extends Credentials {
  /** Where they came from, for messages: "options", "env AWS_*", "env LITESTREAM_*", "file <path> [profile]". */
  source: string;
}

export const CREDENTIALS_HINT =
  "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or LITESTREAM_ACCESS_KEY_ID and " +
  "LITESTREAM_SECRET_ACCESS_KEY), the access-key-id / secret-access-key settings, or a profile in " +
  "~/.aws/credentials (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE); instance roles (IMDS) are not supported yet";

/** Parses an INI file into sections of lower-cased keys. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (sec) {
      const name = sec[1]!;
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || !current) continue;
    current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}

export interface CredentialOptions {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  env?: Env;
}

export async function resolveCredentials(opts: CredentialOptions): Promise<ResolvedCredentials> {
  const env = opts.env ?? process.env;
  const op = "s3.credentials";
  if (opts.accessKeyId || opts.secretAccessKey) {
    if (!opts.accessKeyId || !opts.secretAccessKey) {
      throw new WalshipError("config", "S3 credentials need both an access key id and a secret access key", {
        op,
        hint: "set both access-key-id and secret-access-key, or neither to use the environment",
      });
    }
    return {
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      sessionToken: opts.sessionToken || undefined,
      source: "options",
    };
  }
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
      source: "env AWS_ACCESS_KEY_ID",
    };
  }
  if (env.LITESTREAM_ACCESS_KEY_ID && env.LITESTREAM_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.LITESTREAM_ACCESS_KEY_ID,
      secretAccessKey: env.LITESTREAM_SECRET_ACCESS_KEY,
      source: "env LITESTREAM_ACCESS_KEY_ID",
    };
  }
  const home = env.HOME || homedir();
  const file = env.AWS_SHARED_CREDENTIALS_FILE || join(home, ".aws", "credentials");
  const profile = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || "default";
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    const section = parseIni(text).get(profile);
    const id = section?.get("aws_access_key_id");
    const secret = section?.get("aws_secret_access_key");
    if (id && secret) {
      return {
        accessKeyId: id,
        secretAccessKey: secret,
        sessionToken: section?.get("aws_session_token") || undefined,
        source: `file ${file} [${profile}]`,
      };
    }
    if (env.AWS_PROFILE) {
      throw new WalshipError("storage_auth", `profile "${profile}" has no access key in ${file}`, {
        op,
        context: { path: file },
        hint: CREDENTIALS_HINT,
      });
    }
  }
  throw new WalshipError("storage_auth", "no S3 credentials found", { op, hint: CREDENTIALS_HINT });
}
