/**
 * A KV namespace that answers from memory until a snapshot mentioning HANG_MARKER is written, then
 * never answers a read again (TestGateway's `kvScript`). It lives in the isolate, which also hosts the
 * ConfigStore that writes it.
 */
export const HANG_MARKER = "kv-hangs-from-here";

export const HANGING_KV = `const store = new Map();
let hung = false;
export default function () {
  return {
    async get(key, type) {
      if (hung) return new Promise(() => {});
      const value = store.get(key);
      return value === undefined ? null : type === "json" ? JSON.parse(value) : value;
    },
    async put(key, value) {
      store.set(key, value);
      if (String(value).includes(${JSON.stringify(HANG_MARKER)})) hung = true;
    },
  };
}`;
