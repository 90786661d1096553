// Lua scripts are imported as text (`with { type: "text" }`), so `bun build --compile` embeds them.
declare module "*.lua" {
  const source: string;
  export default source;
}

// JSON.rawJSON (TC39 "JSON.parse source text access"), which Bun implements; not yet in TypeScript's lib.
interface JSON {
  rawJSON(text: string): unknown;
}
