/** `wrangler deploy` ships the repo's policies: the offline dry-run bundle (built by the test setup) carries them. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultPolicyFiles, loadPolicyFiles } from "../../policies/cli/files.ts";
import { GATEWAY_BUNDLE } from "../support/bundle.ts";

describe("deploy bundle", () => {
  it("contains every document of policies/*.yaml", () => {
    const bundle = readFileSync(GATEWAY_BUNDLE, "utf8");
    const { documents } = loadPolicyFiles(defaultPolicyFiles());
    expect(documents.length).toBeGreaterThan(0);
    for (const { value } of documents) {
      const { kind, metadata } = value as { kind: string; metadata: { name: string } };
      // esbuild inlines the JSON as an object literal.
      expect(bundle, `${kind}/${metadata.name}`).toMatch(new RegExp(`kind: "${kind}",\\s*metadata: \\{\\s*name: "${metadata.name}"`));
    }
  });
});
