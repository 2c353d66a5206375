package dev.flotilla.worker.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.prefix.PrefixBloom;
import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.InProcessWorker;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A real worker reports the prefix keys of what it prefilled, as the gateway computes them. */
class HeldPrefixesIT {
  @Test
  void aGeneratedPromptsKeysAreInTheNextStatsReport() throws Exception {
    String system = "You are a careful assistant. ".repeat(40); // 1,160 chars: 3 keys
    String prompt = system + "What is two and two?";
    try (InProcessWorker w = InProcessWorker.start()) {
      InProcessWorker.Result r =
          w.generate(
              WorkerGenerateRequest.newBuilder()
                  .setRequestId("p")
                  .setPrompt(prompt)
                  .setSampling(SamplingParams.newBuilder().setMaxTokens(2))
                  .build());
      assertThat(r.ok()).as("%s", r.error()).isTrue();
      Iterator<WorkerStats> reports =
          w.blocking
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .stats(StatsRequest.getDefaultInstance());
      WorkerStats stats = reports.next();
      PrefixBloom held = PrefixBloom.of(stats.getHeldPrefixes());

      // The gateway's computation, from the text it forwards.
      PrefixKeys.Chain chain = PrefixKeys.ofText("", prompt);
      assertThat(chain.size()).isEqualTo(3);
      assertThat(stats.getHeldPrefixes().getKeys()).isEqualTo(chain.size());
      for (long k : chain.keys()) {
        assertThat(held.mightContain(k)).isTrue();
      }
      // Another system prompt, or the same one under an adapter, is not held.
      assertThat(held.mightContain(PrefixKeys.ofText("", "Be brief. ".repeat(60)).keys()[0]))
          .isFalse();
      assertThat(held.mightContain(PrefixKeys.ofText("tiny-lora", prompt).keys()[0])).isFalse();
    }
  }
}
