// The smallest job: Resque.enqueue(Greet, "Ada") or RPUSH resque:queue:default '{"class":"Greet","args":["Ada"]}'.
import { register } from "../src/index";

register("Greet", (queue: string, name: string) => {
  console.log(`[${queue}] hello, ${name}`);
});
