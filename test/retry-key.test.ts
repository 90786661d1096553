// Issue #17 point 4 (groundwork): resque-retry's attempt-counter key, checked against real Ruby's
// Array#join + SHA1 (reference 5.1) for the argument shapes Ruby jobs carry.
import { expect, test } from "bun:test";
import { retryKey, rubyFloat, rubyJoin } from "../src/retry-key";
import { hasRuby, ruby, rubyRequired } from "./helpers/ruby";

test("the reference's observed keys", () => {
  // args [42,"x",[1,[2]],{"h"=>1},nil] -> joined 42-x-1-2-{"h"=>1}- (observed)
  expect(rubyJoin('[42,"x",[1,[2]],{"h":1},null]')).toBe('42-x-1-2-{"h"=>1}-');
  expect(retryKey("RetryJob", '[42,"x",[1,[2]],{"h":1},null]')).toBe("resque-retry:RetryJob:0e530519eee6eb2a16c6c1999c735708dd963c0f");
  expect(retryKey("RetryJob", '["b"]')).toBe("resque-retry:RetryJob:e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98");
  expect(retryKey("Foo::Bar", "[]")).toBe("resque-retry:Foo::Bar");
  expect(retryKey("Foo", "[[]]")).toBe("resque-retry:Foo");
});

test("Float#to_s as Ruby prints it", () => {
  const cases: [number, string][] = [[1, "1.0"], [1e15, "1.0e+15"], [1e14, "100000000000000.0"], [1e-4, "0.0001"], [1.234e-5, "1.234e-05"],
    [2.5, "2.5"], [-0, "-0.0"], [1e20, "1.0e+20"], [1.5e-7, "1.5e-07"], [1e100, "1.0e+100"], [0.1 + 0.2, "0.30000000000000004"], [1234567890123456, "1.234567890123456e+15"]];
  for (const [x, s] of cases) expect(rubyFloat(x)).toBe(s);
});

const FIXTURES = [
  "[]", "[1]", '["a b"]', "[1,[],2]", "[[[]]]", "[null,null]", "[true,false]", "[1.0,1e3,2.5,-0.0,1e20,1.5e-7,0.1]",
  "[18446744073709551616,-1180591620717411303424,-0]", '["u/é","tab\\there","new\\nline"]', '[{"h":1}]',
  '[{"s":"a\\"b","n":null,"f":1.0,"a":[1,"x"],"t":true,"nested":{"k":"v"}}]', '[[1,[2,[3.25,"x"]]],"end"]',
  '[{"job_class":"HelloJob","arguments":["World",42],"executions":0}]', '["#{x}", "a#b"]',
];

test.skipIf(!hasRuby && !rubyRequired)("the same key as Ruby's redis_retry_key for each argument shape (Ruby 3.1)", async () => {
  const out = await ruby(`
    require "digest/sha1"
    JSON.parse(ENV["FIXTURES"]).each do |raw|
      args = JSON.parse(raw)
      id = (s = args.join("-")).empty? ? nil : Digest::SHA1.hexdigest(s)
      puts ["resque-retry", "Cls", id].compact.join(":").gsub(/\\s/, "")
    end
  `, { FIXTURES: JSON.stringify(FIXTURES) });
  expect(FIXTURES.map((raw) => retryKey("Cls", raw))).toEqual(out.split("\n"));
});
