/**
 * A tiny, purpose-built reader and writer for the few S3 XML documents walship touches. S3 responses are
 * flat, machine-written XML without CDATA or comments in the elements read here, so "find the element,
 * take its text, decode entities" is exact for them. Element names are matched whole (<Key> never matches
 * <KeyCount>).
 */

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function xmlUnescape(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ent: string) => {
    if (ent[0] === "#") {
      const cp =
        ent[1] === "x" || ent[1] === "X"
          ? Number.parseInt(ent.slice(2), 16)
          : Number.parseInt(ent.slice(1), 10);
      return Number.isFinite(cp) && cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    }
    return NAMED[ent] ?? whole;
  });
}

export function xmlEscape(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${c === "&" ? "amp" : c === "<" ? "lt" : c === ">" ? "gt" : c === '"' ? "quot" : "apos"};`,
  );
}

function elementRe(name: string, flags = ""): RegExp {
  // <Name> or <Name attr="..."> ... </Name>, or the empty form <Name/>.
  return new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, flags);
}

/** Text of the first <name> element, entities decoded; undefined if absent. */
export function xmlText(xml: string, name: string): string | undefined {
  const m = elementRe(name).exec(xml);
  if (!m) return undefined;
  return xmlUnescape(m[1] ?? "");
}

/** Inner XML of every <name> element, in document order. */
export function xmlBlocks(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = elementRe(name, "g");
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) out.push(m[1] ?? "");
  return out;
}

export interface ListedObject {
  key: string;
  size: number;
  /** LastModified as sent (ISO 8601). */
  lastModified: string;
}

export interface ListPage {
  objects: ListedObject[];
  isTruncated: boolean;
  nextContinuationToken: string | undefined;
}

/** ListObjectsV2 result: Contents (Key, Size, LastModified), IsTruncated, NextContinuationToken. */
export function parseListObjectsV2(xml: string): ListPage {
  const objects: ListedObject[] = [];
  for (const block of xmlBlocks(xml, "Contents")) {
    const key = xmlText(block, "Key");
    if (key === undefined) continue;
    objects.push({
      key,
      size: Number(xmlText(block, "Size") ?? "0"),
      lastModified: xmlText(block, "LastModified") ?? "",
    });
  }
  // Contents were read; look for the top-level flags outside them so a key can never fake one.
  const top = xml.replace(elementRe("Contents", "g"), "");
  return {
    objects,
    isTruncated: (xmlText(top, "IsTruncated") ?? "false").trim().toLowerCase() === "true",
    nextContinuationToken: xmlText(top, "NextContinuationToken") || undefined,
  };
}

export interface S3ErrorBody {
  code: string | undefined;
  message: string | undefined;
  /** AuthorizationHeaderMalformed / PermanentRedirect carry the bucket's region. */
  region: string | undefined;
}

export function parseErrorBody(xml: string): S3ErrorBody {
  const err = xmlBlocks(xml, "Error")[0] ?? xml;
  return { code: xmlText(err, "Code"), message: xmlText(err, "Message"), region: xmlText(err, "Region") };
}

export interface DeleteError {
  key: string;
  code: string;
  message: string;
}

/** DeleteObjects result: the per-key <Error> entries (Quiet mode lists only failures). */
export function parseDeleteResult(xml: string): DeleteError[] {
  return xmlBlocks(xml, "Error").map((b) => ({
    key: xmlText(b, "Key") ?? "",
    code: xmlText(b, "Code") ?? "",
    message: xmlText(b, "Message") ?? "",
  }));
}

/** DeleteObjects request body, the same shape the AWS SDK serialises. */
export function deleteObjectsXml(keys: readonly string[]): string {
  let s = '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
  for (const k of keys) s += `<Object><Key>${xmlEscape(k)}</Key></Object>`;
  return `${s}<Quiet>true</Quiet></Delete>`;
}

export function completeMultipartXml(parts: ReadonlyArray<{ partNumber: number; etag: string }>): string {
  let s = '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
  for (const p of parts)
    s += `<Part><ETag>${xmlEscape(p.etag)}</ETag><PartNumber>${p.partNumber}</PartNumber></Part>`;
  return `${s}</CompleteMultipartUpload>`;
}
