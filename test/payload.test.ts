// A queue item -> a job, or a MalformedPayloadError that names the problem (reference section 2).
import { describe, expect, test } from "bun:test";
import { MalformedPayloadError } from "../src/errors";
import { decodePayload, MAX_DEPTH } from "../src/payload";
import { thrown } from "./helpers/redis";


describe("decodePayload: valid payloads", () => {
  test("class and args", () => {
    expect(decodePayload('{"class":"Echo","args":[1,"two",{"three":3},null,true]}', false)).toEqual({
      className: "Echo",
      args: [1, "two", { three: 3 }, null, true],
      payload: { class: "Echo", args: [1, "two", { three: 3 }, null, true] },
    });
  });

  test("extra keys are kept in the payload, in any key order", () => {
    const job = decodePayload('{"args":["x"],"id":"j1","class":"Echo","enqueued_at":1.5,"meta":{"k":[1]}}', false);
    expect(job.className).toBe("Echo");
    expect(job.args).toEqual(["x"]);
    expect(job.payload).toEqual({ args: ["x"], id: "j1", class: "Echo", enqueued_at: 1.5, meta: { k: [1] } });
    expect(Object.keys(job.payload)).toEqual(["args", "id", "class", "enqueued_at", "meta"]);
  });

  test.each([
    { name: "missing", raw: '{"class":"Echo"}' },
    { name: "null", raw: '{"class":"Echo","args":null}' },
    { name: "empty", raw: '{"class":"Echo","args":[]}' },
  ])("args $name -> []", ({ raw }) => {
    expect(decodePayload(raw, false).args).toEqual([]);
  });

  test("class names Resque accepts: namespaced and dashed", () => {
    expect(decodePayload('{"class":"Jobs::Namespaced","args":[]}', false).className).toBe("Jobs::Namespaced");
    expect(decodePayload('{"class":"echo-job","args":[]}', false).className).toBe("echo-job");
  });

  test("surrounding whitespace and unicode", () => {
    expect(decodePayload(' \n{"class":"É","args":["ünïcödé","\\u2028"]}\n', false).args).toEqual(["ünïcödé", "\u2028"]);
  });
});

describe("decodePayload: malformed payloads", () => {
  test.each([
    { name: "args a string", raw: '{"class":"A","args":"scalar"}', message: '"args" must be an array, got string' },
    { name: "args an object", raw: '{"class":"A","args":{"k":"v"}}', message: '"args" must be an array, got object' },
    { name: "args a number", raw: '{"class":"A","args":5}', message: '"args" must be an array, got number' },
    { name: "args false", raw: '{"class":"A","args":false}', message: '"args" must be an array, got boolean' },
    { name: "null", raw: "null", message: "payload must be a JSON object, got null" },
    { name: "an array", raw: '[{"class":"A"}]', message: "payload must be a JSON object, got an array" },
    { name: "a string", raw: '"A"', message: "payload must be a JSON object, got string" },
    { name: "a number", raw: "42", message: "payload must be a JSON object, got number" },
    { name: "a boolean", raw: "true", message: "payload must be a JSON object, got boolean" },
    { name: "no class", raw: '{"args":[1]}', message: 'payload has no "class" string (got undefined)' },
    { name: "class a number", raw: '{"class":5,"args":[]}', message: 'payload has no "class" string (got number)' },
    { name: "class null", raw: '{"class":null,"args":[]}', message: 'payload has no "class" string (got null)' },
    { name: "class an array", raw: '{"class":["A"],"args":[]}', message: 'payload has no "class" string (got an array)' },
    { name: "class empty", raw: '{"class":"","args":[]}', message: 'payload has no "class" string' },
    { name: "invalid JSON", raw: '{"class":"A",', message: "payload is not valid JSON (" },
    { name: "a truncated string", raw: '{"class":"A","args":["x', message: "payload is not valid JSON (" },
    { name: "empty input", raw: "", message: "payload is not valid JSON (" },
    { name: "trailing garbage", raw: '{"class":"A"} x', message: "payload is not valid JSON (" },
    { name: "NaN", raw: '{"class":"A","args":[NaN]}', message: "payload is not valid JSON (" },
  ])("$name", ({ raw, message }) => {
    for (const useNumber of [false, true]) {
      const e = thrown(() => decodePayload(raw, useNumber));
      expect(e).toBeInstanceOf(MalformedPayloadError);
      expect(e.name).toBe("MalformedPayloadError");
      expect(e.message).toStartWith(message);
    }
  });
});

describe("decodePayload: nesting depth", () => {
  // The payload object is level 1; each array inside adds one.
  const nested = (depth: number) => `{"class":"A","args":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

  test("the limit is 100, Ruby's JSON max_nesting", () => {
    expect(MAX_DEPTH).toBe(100);
  });

  test("exactly 100 levels decode", () => {
    let inner: unknown = decodePayload(nested(100), false).args;
    let levels = 1;
    while (Array.isArray(inner) && inner.length) [inner, levels] = [inner[0], levels + 1];
    expect(levels).toBe(99);
  });

  test("101 levels are refused, objects and arrays alike", () => {
    for (const raw of [nested(101), `{"class":"A","args":[${'{"a":'.repeat(100)}1${"}".repeat(100)}]}`]) {
      const e = thrown(() => decodePayload(raw, false));
      expect(e).toBeInstanceOf(MalformedPayloadError);
      expect(e.message).toContain("deeper than 100 levels");
    }
  });

  test("brackets inside strings, escaped quotes included, do not count", () => {
    const raw = `{"class":"A","args":["${"[{".repeat(150)}","\\"${"[".repeat(150)}","\\\\",${"[".repeat(98)}${"]".repeat(98)}]}`;
    const job = decodePayload(raw, false);
    expect(job.args[0]).toBe("[{".repeat(150));
    expect(job.args[1]).toBe(`"${"[".repeat(150)}`);
    expect(job.args[2]).toBe("\\");
  });
});

describe("decodePayload: --use-number", () => {
  const raw = '{"class":"A","args":[18446744073709551616,-1180591620717411303424,42,1e20,1.5,9007199254740991,9007199254740993,{"id":12345678901234567890}]}';

  test("integers beyond 2^53 become exact bigint; everything else stays a number", () => {
    const { args, payload } = decodePayload(raw, true);
    expect(args[0]).toBe(18446744073709551616n);
    expect(args[1]).toBe(-1180591620717411303424n);
    expect(args[2]).toBe(42);
    expect(args[3]).toBe(1e20);
    expect(typeof args[3]).toBe("number");
    expect(args[4]).toBe(1.5);
    expect(args[5]).toBe(9007199254740991); // Number.MAX_SAFE_INTEGER stays a number
    expect(args[6]).toBe(9007199254740993n);
    expect(args[7]).toEqual({ id: 12345678901234567890n });
    expect(payload.args).toBe(args);
  });

  test("floats with many digits stay numbers; digit strings stay strings", () => {
    const { args } = decodePayload('{"class":"A","args":[12345678901234567.0,1.0e+20,"18446744073709551616",-0]}', true);
    expect(args).toEqual([12345678901234567, 1e20, "18446744073709551616", -0]);
    expect(args.map((a) => typeof a)).toEqual(["number", "number", "string", "number"]);
  });

  test("without --use-number big integers are lossy numbers", () => {
    const { args } = decodePayload(raw, false);
    expect(args.slice(0, 7).every((a) => typeof a === "number")).toBe(true);
    expect(args[0]).toBe(18446744073709552000);
    expect(args[1]).toBe(-1.1805916207174113e21);
    expect(args[6]).toBe(9007199254740992); // 2^53 + 1 rounds to 2^53
    expect(String(args[6])).not.toBe("9007199254740993");
  });
});
