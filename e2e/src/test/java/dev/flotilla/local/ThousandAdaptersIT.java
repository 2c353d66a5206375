package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.testkit.LoraAdapterGenerator;
import dev.flotilla.testkit.ReferenceModel;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One worker serves 1,000 adapters: a ModelDeployment pinned to one replica, 1,000 LoraAdapters of
 * the tiny model (rank 4 on q_proj and v_proj, each from its own seed), and one greedy request per
 * adapter through the gateway, 32 at a time. The worker holds at most 2 adapters resident (the
 * suite's ModelDeployments cap them), so the 1,000 rotate through its pool and host tier while
 * requests run. Each answer is its adapter's: a sample is checked against the reference forward
 * pass with that adapter, and a second round over a sample, served from the host tier, answers as
 * the first did.
 */
@ExtendWith(FailureDump.class)
class ThousandAdaptersIT {
  private static final String MODEL = "e2e-adapters";
  private static final String TENANT = "e2e-adapters";
  private static final String KEY = "flk_e2e_adapters_7e3a9c1b5d";
  private static final int ADAPTERS = 1000;
  private static final int IN_FLIGHT = 32;
  private static final int MAX_TOKENS = 6;
  private static final int[] PROMPT = {5, 17, 42, 99, 3, 64, 8};

  static LocalSystem system;
  static Path adapterDir;

  @BeforeAll
  static void startOneWorkerWithAThousandAdapters() throws Exception {
    assumeTrue(
        LocalSystem.workerHasEngine(),
        "the worker was built without its native engine (-Dnative.skip)");
    system = LocalSystem.start("e2e-adapters", 200, "--no-kafka");
    adapterDir = system.dir.resolve("adapters");
    StringBuilder yaml = new StringBuilder();
    for (int i = 0; i < ADAPTERS; i++) {
      LoraAdapterGenerator.forBase(system.local.assets().model())
          .rank(4)
          .alpha(8)
          .seed(5000 + i)
          .generate(adapterDir.resolve(name(i)));
      yaml.append(
          """
          apiVersion: flotilla.dev/v1alpha1
          kind: LoraAdapter
          metadata:
            name: %s
            namespace: default
          spec:
            modelDeployment: %s
            source: file://%s
            tenant: %s
            visibility: Private
            rank: 4
            targetModules: [q_proj, v_proj]
          ---
          """
              .formatted(name(i), MODEL, adapterDir.resolve(name(i)), TENANT));
    }
    system.apply(
        LocalSystem.tenant(
            TENANT,
            KEY,
            "[\"default/" + MODEL + "\"]",
            "requestsPerSecond: 1000\n    burst: 2000\n    tokensPerMinute: 10000000\n"
                + "    maxConcurrent: 64"));
    system.applyModel(MODEL, 32, "minReplicas: 1\nmaxReplicas: 1", 1);
    system.apply(yaml.toString());
    await()
        .atMost(Duration.ofSeconds(240))
        .pollInterval(Duration.ofSeconds(2))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(adapters()).hasSize(ADAPTERS);
              Generation probe = generate(0).await(30);
              assertThat(probe.error()).as("%s", probe).isNull();
            });
  }

  @AfterAll
  static void stopTheSystem() throws Exception {
    if (system != null) {
      system.close();
    }
  }

  @Test
  void oneWorkerServesEveryAdapterWithThatAdaptersOutput() throws Exception {
    List<Generation> first = run(IntStream.range(0, ADAPTERS).boxed().toList());
    for (int i = 0; i < ADAPTERS; i++) {
      Generation g = first.get(i);
      assertThat(g.error()).as("%s", g).isNull();
      assertThat(g.tokenIds()).as("tokens of %s", name(i)).isNotEmpty();
    }
    List<Pod> workers = system.workers(MODEL);
    assertThat(workers).as("one worker served them all").hasSize(1);
    String metrics = system.workerMetrics(workers.get(0));
    assertThat(
            counter(metrics, "flotilla_worker_adapter_loads_total{result=\"ok\",source=\"disk\""))
        .as("each adapter's files read")
        .isGreaterThanOrEqualTo(ADAPTERS);
    assertThat(counter(metrics, "flotilla_worker_adapter_evictions_total{tier=\"pool\""))
        .as("adapters rotated through the pool")
        .isGreaterThanOrEqualTo(ADAPTERS - 2);

    // Each answer is its own adapter's: the reference forward pass with that adapter agrees.
    ReferenceModel base = ReferenceModel.load(system.local.assets().model());
    int[] baseAnswer = base.greedy(PROMPT, MAX_TOKENS);
    Set<List<Integer>> distinct = new HashSet<>();
    int differsFromBase = 0;
    for (int i : List.of(0, 1, 2, 499, 500, 998, 999)) {
      int[] expected = base.withAdapter(adapterDir.resolve(name(i))).greedy(PROMPT, MAX_TOKENS);
      assertThat(first.get(i).tokenIds())
          .as("tokens of %s", name(i))
          .containsExactly(boxed(expected));
      distinct.add(first.get(i).tokenIds());
      if (!List.of(boxed(expected)).equals(List.of(boxed(baseAnswer)))) {
        differsFromBase++;
      }
    }
    assertThat(differsFromBase).as("adapters that change the base model's answer").isPositive();
    assertThat(distinct).as("distinct answers of 7 adapters").hasSizeGreaterThan(1);

    // A second round over a sample: the adapters come back from the host tier, not the disk, and
    // answer as before.
    double diskLoads =
        counter(metrics, "flotilla_worker_adapter_loads_total{result=\"ok\",source=\"disk\"");
    List<Integer> sample = IntStream.range(0, 100).map(i -> i * 10).boxed().toList();
    List<Generation> again = run(sample);
    for (int k = 0; k < sample.size(); k++) {
      assertThat(again.get(k).error()).as("%s", again.get(k)).isNull();
      assertThat(again.get(k).tokenIds())
          .as("tokens of %s the second time", name(sample.get(k)))
          .isEqualTo(first.get(sample.get(k)).tokenIds());
    }
    String after = system.workerMetrics(workers.get(0));
    assertThat(counter(after, "flotilla_worker_adapter_loads_total{result=\"ok\",source=\"disk\""))
        .as("no adapter read from disk again")
        .isEqualTo(diskLoads);
    assertThat(counter(after, "flotilla_worker_adapter_loads_total{result=\"ok\",source=\"host\""))
        .as("loads from the host tier")
        .isPositive();
  }

  /** One request per adapter, at most {@link #IN_FLIGHT} at a time; the generations in order. */
  private static List<Generation> run(List<Integer> adapters) throws Exception {
    List<Generation> out = new ArrayList<>();
    for (int i : adapters) {
      if (out.size() >= IN_FLIGHT) {
        out.get(out.size() - IN_FLIGHT).await(300);
      }
      out.add(generate(i));
    }
    for (Generation g : out) {
      g.await(300);
    }
    return out;
  }

  private static Generation generate(int adapter) {
    GenerateRequest request =
        GenerateRequest.newBuilder()
            .setRequestId("many-" + adapter + "-" + System.nanoTime())
            .setModel(MODEL)
            .setAdapter(name(adapter))
            .setPromptTokenIds(TokenIds.newBuilder().addAllIds(List.of(boxed(PROMPT))))
            .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(MAX_TOKENS))
            .build();
    return Generation.start(TENANT, system.async(KEY), request);
  }

  private static List<String> adapters() {
    List<String> names = new ArrayList<>();
    for (var m :
        system
            .blocking(KEY)
            .listModels(dev.flotilla.api.v1.ListModelsRequest.getDefaultInstance())
            .getModelsList()) {
      if (m.getName().endsWith(MODEL)) {
        m.getAdaptersList().forEach(a -> names.add(a.getName()));
      }
    }
    return names;
  }

  private static String name(int i) {
    return "many-" + i;
  }

  private static Integer[] boxed(int[] values) {
    return IntStream.of(values).boxed().toArray(Integer[]::new);
  }

  private static double counter(String metrics, String prefix) {
    return WholeSystemIT.counter(metrics, prefix);
  }
}
