// A Rails job moved to Bun (issue #16). Rails keeps enqueueing it through ActiveJob's Resque adapter:
//   WelcomeEmailJob.perform_later(user, plan: "pro")        # user: an ActiveRecord model
// which writes this (try it: bun run worker.ts --queues=default, then in another shell)
//   redis-cli RPUSH resque:queue:default '{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":"WelcomeEmailJob","job_id":"5b5a1d07-861a-4423-915c-de25a96a7aba","provider_job_id":null,"queue_name":"default","priority":null,"arguments":[{"_aj_globalid":"gid://shop/User/7"},{"plan":"pro","_aj_ruby2_keywords":["plan"]}],"executions":0,"exception_executions":{},"locale":"en","timezone":"UTC","enqueued_at":"2026-12-02T13:55:51Z"}]}'
// The job gets the model as a GlobalId and the keyword arguments as one trailing object, then hands a
// follow-up back to a Ruby ActiveJob class (AuditLogJob, performed by the Rails app's Resque workers).
import { enqueueActiveJob, GlobalId, register, type JobContext } from "../src/index";

register("WelcomeEmailJob", async function (this: JobContext, _queue: string, user: GlobalId, options: { plan?: string } = {}) {
  if (!(user instanceof GlobalId)) throw new TypeError("WelcomeEmailJob needs a user model (a GlobalID) as its first argument");
  const run = this.activeJob;
  console.log(`welcome mail to ${user.model} #${user.id} on plan ${options.plan ?? "free"} (locale ${run?.locale ?? "en"}, job ${run?.jobId ?? "-"}, run ${run?.executions ?? 1})`);
  // Ruby's perform(event, user, at:) receives "welcome_email_sent", the User record (located by its GlobalID) and a Time.
  await enqueueActiveJob("AuditLogJob", ["welcome_email_sent", user], { queue: "rails", keywords: { at: new Date() } });
});
