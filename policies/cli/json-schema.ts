/** `npm run schema`: writes policies/edgemesh.schema.json, generated from the zod schemas, for editors. */
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { PolicyDocument } from "../schema/index.ts";

const schema = z.toJSONSchema(PolicyDocument, { io: "input", unrepresentable: "any" });
const out = new URL("../edgemesh.schema.json", import.meta.url);
writeFileSync(out, JSON.stringify({ title: "edgemesh policy document", ...schema }, null, 2) + "\n");
console.log(`wrote ${out.pathname}`);
