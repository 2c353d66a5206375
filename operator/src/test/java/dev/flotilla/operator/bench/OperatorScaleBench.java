package dev.flotilla.operator.bench;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.api.crd.GpuNodePoolStatus;
import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.LoraAdapterSpec;
import dev.flotilla.api.crd.LoraAdapterStatus;
import dev.flotilla.api.crd.LoraTarget;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentStatus;
import dev.flotilla.operator.Fixtures;
import dev.flotilla.operator.OperatorHarness;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.javaoperatorsdk.operator.api.monitoring.Metrics;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The operator at scale on the in-memory API server: 20 GpuNodePools, 1,000 ModelDeployments across
 * them (sizes from {@code weightsMemory}, so no file reads) and 5,000 LoraAdapters. Times how long
 * until every resource's status has {@code observedGeneration == generation} and the pools account
 * for every placement, then one deployment's spec change while the rest are idle, and measures the
 * heap once settled. Prints one JSON line last. Run by {@code bench/operator/run.sh}; not a test.
 *
 * <p>Everything runs in this JVM: {@code heap_mib} includes the in-memory API server (every object
 * as JSON, the Events too) and the client, so it bounds the operator's heap from above.
 */
public final class OperatorScaleBench {
  static final int POOLS = 20;
  static final int DEPLOYMENTS = 1_000;
  static final int ADAPTERS = 5_000;
  static final Duration LIMIT = Duration.ofMinutes(5);

  public static void main(String[] args) throws Exception {
    Logger.getLogger("").setLevel(Level.WARNING);
    for (var handler : Logger.getLogger("").getHandlers()) {
      handler.setLevel(Level.WARNING);
    }
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            new HashMap<>(),
            new KubernetesCrudDispatcher(),
            false);
    server.init();
    try (KubernetesClient client = server.createClient()) {
      run(client);
    } finally {
      server.destroy();
    }
    System.exit(0);
  }

  static void run(KubernetesClient client) throws Exception {
    OperatorHarness.installCrds(client);
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(Fixtures.NAMESPACE)
                .endMetadata()
                .build())
        .create();
    LongAdder reconciles = new LongAdder();
    Metrics counting =
        new Metrics() {
          @Override
          public void reconciliationStarted(HasMetadata resource, Map<String, Object> metadata) {
            reconciles.increment();
          }
        };
    OperatorHarness operator =
        new OperatorHarness(
                client, SettingsBuilder.defaults().build(), Clock.systemUTC(), null, counting)
            .start();

    SharedIndexInformer<GpuNodePool> pools = client.resources(GpuNodePool.class).inform();
    SharedIndexInformer<ModelDeployment> models =
        client.resources(ModelDeployment.class).inAnyNamespace().inform();
    SharedIndexInformer<LoraAdapter> adapters =
        client.resources(LoraAdapter.class).inAnyNamespace().inform();

    long start = System.nanoTime();
    createAll(client, resources());
    double createSeconds = seconds(start);
    await(() -> settled(pools, models, adapters));
    double reconcileAll = seconds(start);
    long reconcileCount = reconciles.sum();

    // One change while everything else is idle: a scaling limit, which re-places the deployment
    // and re-validates its adapters.
    String name = name(DEPLOYMENTS / 2);
    long changeStart = System.nanoTime();
    ModelDeployment changed =
        client
            .resources(ModelDeployment.class)
            .inNamespace(Fixtures.NAMESPACE)
            .withName(name)
            .edit(
                m -> {
                  m.getSpec().getScaling().setMaxReplicas(3);
                  return m;
                });
    long generation = changed.getMetadata().getGeneration();
    await(
        () -> {
          ModelDeployment md = models.getStore().getByKey(Fixtures.NAMESPACE + "/" + name);
          return md != null
              && md.getStatus() != null
              && Objects.equals(md.getStatus().getObservedGeneration(), generation);
        });
    double singleChange = seconds(changeStart);
    await(() -> settled(pools, models, adapters));

    pools.close();
    models.close();
    adapters.close();
    long heap = usedHeapAfterGc();
    operator.close();

    System.out.println(
        String.format(
            Locale.ROOT,
            "{\"pools\":%d,\"model_deployments\":%d,\"lora_adapters\":%d,"
                + "\"create_s\":%.2f,\"reconcile_all_s\":%.2f,\"reconciles\":%d,\"reconciles_per_s\":%.0f,"
                + "\"heap_mib\":%d,\"single_change_s\":%.3f}",
            POOLS,
            DEPLOYMENTS,
            ADAPTERS,
            createSeconds,
            reconcileAll,
            reconcileCount,
            reconcileCount / reconcileAll,
            heap >> 20,
            singleChange));
  }

  /** Pools first (placement needs them), then each deployment followed by its adapters. */
  static List<HasMetadata> resources() {
    List<HasMetadata> all = new ArrayList<>();
    for (int p = 0; p < POOLS; p++) {
      // 8 × 20 = 160 GPUs each, 3,200 in all for 1,000 × 2 reserved: everything fits, at varied
      // costs.
      all.add(
          Fixtures.pool(
              String.format(Locale.ROOT, "pool-%02d", p),
              "NVIDIA-L4",
              "24Gi",
              8,
              20,
              0.5 + 0.05 * p));
    }
    for (int m = 0; m < DEPLOYMENTS; m++) {
      ModelDeployment md = Fixtures.model(name(m), 1, 2);
      md.getMetadata().setUid(null);
      md.getSpec().getEngine().setMaxLoraRank(16);
      all.add(md);
      for (int a = 0; a < ADAPTERS / DEPLOYMENTS; a++) {
        all.add(adapter(name(m), name(m) + "-lora-" + a));
      }
    }
    return all;
  }

  static LoraAdapter adapter(String model, String name) {
    LoraAdapter adapter = new LoraAdapter();
    adapter.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(Fixtures.NAMESPACE).build());
    LoraAdapterSpec spec = new LoraAdapterSpec();
    spec.setModelDeployment(model);
    spec.setSource("pvc://adapters/" + name);
    spec.setRank(8);
    spec.setTargetModules(List.of(LoraTarget.q_proj, LoraTarget.v_proj));
    adapter.setSpec(spec);
    return adapter;
  }

  static String name(int m) {
    return String.format(Locale.ROOT, "model-%04d", m);
  }

  /** Creates with a few client threads, as several users or a GitOps sync would. */
  static void createAll(KubernetesClient client, List<HasMetadata> resources) throws Exception {
    int pools = POOLS;
    for (HasMetadata pool : resources.subList(0, pools)) {
      client.resource(pool).create();
    }
    List<HasMetadata> rest = resources.subList(pools, resources.size());
    ExecutorService creators = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (HasMetadata resource : rest) {
        done.add(creators.submit(() -> client.resource(resource).create()));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      creators.shutdown();
    }
  }

  /** Every status observed its generation, and the pools account for every placed deployment. */
  static boolean settled(
      SharedIndexInformer<GpuNodePool> pools,
      SharedIndexInformer<ModelDeployment> models,
      SharedIndexInformer<LoraAdapter> adapters) {
    List<ModelDeployment> mds = models.getStore().list();
    if (mds.size() != DEPLOYMENTS
        || adapters.getStore().list().size() != ADAPTERS
        || pools.getStore().list().size() != POOLS) {
      return false;
    }
    if (!mds.stream().allMatch(OperatorScaleBench::observed)
        || !adapters.getStore().list().stream().allMatch(OperatorScaleBench::observed)
        || !pools.getStore().list().stream().allMatch(OperatorScaleBench::observed)) {
      return false;
    }
    long placed = mds.stream().filter(md -> md.getStatus().getPool() != null).count();
    long counted =
        pools.getStore().list().stream().mapToLong(p -> p.getStatus().getPlacements().size()).sum();
    return placed == DEPLOYMENTS && counted == placed;
  }

  static boolean observed(CustomResource<?, ?> resource) {
    Object status = resource.getStatus();
    Long observed = null;
    if (status instanceof ModelDeploymentStatus s) {
      observed = s.getObservedGeneration();
    } else if (status instanceof LoraAdapterStatus s) {
      observed = s.getObservedGeneration();
    } else if (status instanceof GpuNodePoolStatus s) {
      observed = s.getObservedGeneration();
    }
    return observed != null && observed.equals(resource.getMetadata().getGeneration());
  }

  static void await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not settled within " + LIMIT);
      }
      LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
    }
  }

  static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  static double seconds(long since) {
    return (System.nanoTime() - since) / 1e9;
  }
}
