// A job that fails on purpose, to show what a failure looks like in Resque's failed list.
import { register } from "../src/index";

class PaymentDeclined extends Error {}

register("ChargeCard", (_queue: string, cents: number) => {
  if (cents > 10_000) throw new PaymentDeclined(`card declined for ${cents} cents`);
  console.log(`charged ${cents} cents`);
});
