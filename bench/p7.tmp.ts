import { compileRegex } from "../policies/regex.ts";
const res = Array.from({ length: 960 }, () => compileRegex("(a+)+$"));
const run = (n: number, reps: number) => { const v = "a".repeat(n) + "!"; const s = performance.now(); for (let r = 0; r < reps; r++) for (const re of res) re.test(v); return (performance.now() - s) / reps; };
run(8000, 2);
for (let i = 0; i < 3; i++) console.log("2000:", run(2000, 4).toFixed(1), "ms/request  8000:", run(8000, 4).toFixed(1), "ms/request");
