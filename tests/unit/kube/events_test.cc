// EventRecorder: shape of events.k8s.io/v1 Events, series aggregation within a
// window (ManualClock), redaction, best-effort failure handling.
#include "controller/kube/events.h"

#include <gtest/gtest.h>

#include "controller/common/log.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::kube {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::KubeError;
using testing::MemoryClient;

Json Release() {
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "ImageRelease"},
          {"metadata",
           {{"name", "sql-1.3.0"},
            {"namespace", "images"},
            {"uid", "u-1"},
            {"resourceVersion", "42"}}}};
}

Event Warning(const std::string& note) {
  return {.regarding = ObjectReference::To(Release()),
          .type = EventType::kWarning,
          .reason = "ValidationFailed",
          .action = "Validate",
          .note = note};
}

struct Fixture {
  ManualClock clock;
  MemoryClient client;
  EventRecorder recorder{client,
                         {.reporting_controller = "vmrelease.io/controller",
                          .reporting_instance = "host-1",
                          .clock = &clock}};
  Fixture() { recorder.Start(); }
  void Flush() { ASSERT_TRUE(recorder.WaitIdle(std::chrono::seconds(10))); }
};

TEST(EventRecorderTest, CreatesAnEventsV1EventAboutTheObject) {
  Fixture f;
  f.recorder.Publish(Warning("check backup-job failed: exit code 1"));
  f.Flush();
  auto events = f.client.All(EventResource());
  ASSERT_EQ(events.size(), 1u);
  const Json& e = events[0];
  EXPECT_EQ(e["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(e["kind"], "Event");
  EXPECT_EQ(e["metadata"]["namespace"], "images");
  EXPECT_EQ(e["metadata"]["name"].get<std::string>().rfind("sql-1.3.0.", 0), 0u);
  EXPECT_EQ(e["eventTime"], FormatRfc3339(f.clock.WallNow(), true));
  EXPECT_EQ(e["reportingController"], "vmrelease.io/controller");
  EXPECT_EQ(e["reportingInstance"], "host-1");
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["reason"], "ValidationFailed");
  EXPECT_EQ(e["action"], "Validate");
  EXPECT_EQ(e["note"], "check backup-job failed: exit code 1");
  EXPECT_EQ(e["regarding"], (Json{{"apiVersion", "vmrelease.io/v1alpha1"},
                                  {"kind", "ImageRelease"},
                                  {"namespace", "images"},
                                  {"name", "sql-1.3.0"},
                                  {"uid", "u-1"},
                                  {"resourceVersion", "42"}}));
  EXPECT_FALSE(e.contains("series"));
  EXPECT_EQ(f.recorder.stats().created, 1);
}

TEST(EventRecorderTest, RepeatsWithinTheWindowUpdateOneSeries) {
  Fixture f;
  f.recorder.Publish(Warning("same"));
  f.Flush();
  for (int i = 0; i < 4; ++i) {
    f.clock.Advance(minutes(1));
    f.recorder.Publish(Warning("same"));
    f.Flush();
  }
  auto events = f.client.All(EventResource());
  ASSERT_EQ(events.size(), 1u);  // one object, not five
  EXPECT_EQ(events[0]["series"]["count"], 5);
  EXPECT_EQ(events[0]["series"]["lastObservedTime"], FormatRfc3339(f.clock.WallNow(), true));
  EXPECT_EQ(f.client.CountCalls("create"), 1u);
  EXPECT_EQ(f.client.CountCalls("patch"), 4u);
  EXPECT_EQ(f.recorder.stats().series_updates, 4);

  // A different note (or reason, type, object) is a different event.
  f.recorder.Publish(Warning("different"));
  f.Flush();
  EXPECT_EQ(f.client.All(EventResource()).size(), 2u);
}

TEST(EventRecorderTest, ARepeatAfterTheWindowStartsANewEvent) {
  Fixture f;
  f.recorder.Publish(Warning("same"));
  f.Flush();
  f.clock.Advance(minutes(6));  // the default window
  f.recorder.Publish(Warning("same"));
  f.Flush();
  EXPECT_EQ(f.client.All(EventResource()).size(), 2u);
  EXPECT_EQ(f.client.CountCalls("patch"), 0u);
}

TEST(EventRecorderTest, ASeriesWhoseEventWasCollectedStartsOver) {
  Fixture f;
  f.recorder.Publish(Warning("same"));
  f.Flush();
  const Json first = f.client.All(EventResource()).at(0);
  ASSERT_TRUE(f.client.Delete(EventResource(), ObjectRef::FromObject(first), {}).ok());  // TTL
  f.clock.Advance(seconds(10));
  f.recorder.Publish(Warning("same"));
  f.Flush();
  auto events = f.client.All(EventResource());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0]["metadata"]["name"], first["metadata"]["name"]);
  EXPECT_FALSE(events[0].contains("series"));
}

TEST(EventRecorderTest, NotesAreRedactedAndBounded) {
  Fixture f;
  log::RegisterSecret("s3cr3t-token-value");
  f.recorder.Publish(Warning("login with s3cr3t-token-value failed " + std::string(5000, 'x')));
  f.Flush();
  auto events = f.client.All(EventResource());
  ASSERT_EQ(events.size(), 1u);
  const std::string note = events[0]["note"];
  EXPECT_EQ(note.find("s3cr3t-token-value"), std::string::npos);
  EXPECT_NE(note.find("REDACTED"), std::string::npos);
  EXPECT_LE(note.size(), 1024u);
}

TEST(EventRecorderTest, FailuresAreDroppedNotRetriedOrFatal) {
  Fixture f;
  f.client.FailNext("create", 1, KubeError(500, "InternalError", "boom"));
  f.recorder.Publish(Warning("a"));
  f.Flush();
  EXPECT_EQ(f.recorder.stats().dropped, 1);
  EXPECT_TRUE(f.client.All(EventResource()).empty());
  f.recorder.Publish(Warning("b"));
  f.Flush();
  EXPECT_EQ(f.client.All(EventResource()).size(), 1u);
}

TEST(EventRecorderTest, PublishNeverBlocksAndTheQueueIsBounded) {
  ManualClock clock;
  MemoryClient client;
  EventRecorder recorder(client, {.clock = &clock, .max_queue = 3});
  // Not started: nothing drains the queue.
  for (int i = 0; i < 10; ++i) recorder.Publish(Warning("n" + std::to_string(i)));
  EXPECT_EQ(recorder.stats().dropped, 7);
  recorder.Start();
  ASSERT_TRUE(recorder.WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(client.All(EventResource()).size(), 3u);
}

TEST(EventRecorderTest, ClusterScopedObjectsGetEventsInDefault) {
  Fixture f;
  Event e = Warning("x");
  e.regarding.ns = "";
  f.recorder.Publish(e);
  f.Flush();
  auto events = f.client.All(EventResource());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["metadata"]["namespace"], "default");
}

}  // namespace
}  // namespace vmrelease::kube
