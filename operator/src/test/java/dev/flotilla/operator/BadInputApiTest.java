package dev.flotilla.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.LoraAdapterSpec;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.api.crd.TenantSpec;
import dev.flotilla.operator.config.SettingsBuilder;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bad input a user can give: each becomes a condition with a human reason and an Event, makes no
 * objects, and recovers as soon as the input is fixed.
 */
@EnableKubernetesMockClient(crud = true)
class BadInputApiTest {
  static final String NS = Fixtures.NAMESPACE;
  static final Duration WAIT = Duration.ofSeconds(20);
  static final String HASH = "sha256:" + "0123456789abcdef".repeat(4);

  KubernetesClient client;
  OperatorHarness operator;

  @BeforeEach
  void start() {
    OperatorHarness.installCrds(client);
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
    operator =
        new OperatorHarness(
                client,
                SettingsBuilder.defaults().autoscalerTick(Duration.ofMillis(100)).build(),
                new MutableClock(Instant.parse("2026-01-01T00:00:00Z")),
                null)
            .start();
  }

  @AfterEach
  void stop() {
    operator.close();
  }

  static Condition condition(List<Condition> conditions, String type) {
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
  }

  static void expect(
      Supplier<List<Condition>> conditions,
      String type,
      String status,
      String reason,
      String message) {
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              Condition c = condition(conditions.get(), type);
              assertThat(c).as(type).isNotNull();
              assertThat(c.getStatus()).as(c.getMessage()).isEqualTo(status);
              assertThat(c.getReason()).isEqualTo(reason);
              if (message != null) {
                assertThat(c.getMessage()).isEqualTo(message);
              }
            });
  }

  Supplier<List<Condition>> mdConditions(String name) {
    return () -> {
      ModelDeployment md =
          client.resources(ModelDeployment.class).inNamespace(NS).withName(name).get();
      return md.getStatus() == null ? List.of() : md.getStatus().getConditions();
    };
  }

  List<String> events(String namespace, String about) {
    return client.v1().events().inNamespace(namespace).list().getItems().stream()
        .filter(e -> about.equals(e.getInvolvedObject().getName()))
        .map(Event::getReason)
        .toList();
  }

  void create(HasMetadata resource) {
    client.resource(resource).create();
  }

  @Test
  void missingPoolThenPoolCreated() {
    create(Fixtures.onPools(Fixtures.model("m"), "h100-pool"));
    expect(
        mdConditions("m"),
        ConditionTypes.PLACED,
        "False",
        "PoolNotFound",
        "GpuNodePool h100-pool does not exist");
    expect(mdConditions("m"), ConditionTypes.READY, "False", "PoolNotFound", null);
    assertThat(client.apps().deployments().inNamespace(NS).withName("m-worker").get()).isNull();
    assertThat(events(NS, "m")).contains("PlacementFailed");

    create(Fixtures.pool("h100-pool", "NVIDIA-H100", "80Gi", 8, 1, 4.0));
    expect(mdConditions("m"), ConditionTypes.PLACED, "True", "Placed", null);
    await()
        .atMost(WAIT)
        .until(
            () -> client.apps().deployments().inNamespace(NS).withName("m-worker").get() != null);
  }

  @Test
  void minAboveMaxThenFixed() {
    create(Fixtures.pool("l4", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    ModelDeployment md = Fixtures.model("m");
    md.getSpec().getScaling().setMinReplicas(3);
    md.getSpec().getScaling().setMaxReplicas(1);
    create(md);
    expect(
        mdConditions("m"),
        ConditionTypes.PLACED,
        "False",
        "InvalidSpec",
        "scaling.minReplicas 3 is greater than scaling.maxReplicas 1");
    assertThat(events(NS, "m")).contains("InvalidSpec");

    client
        .resources(ModelDeployment.class)
        .inNamespace(NS)
        .withName("m")
        .edit(
            m -> {
              m.getSpec().getScaling().setMaxReplicas(3);
              return m;
            });
    expect(mdConditions("m"), ConditionTypes.PLACED, "True", "Placed", null);
  }

  @Test
  void zeroGpusWithGpuPoolsNamed() {
    create(Fixtures.pool("l4", "NVIDIA-L4", "24Gi", 1, 4, 0.7));
    create(Fixtures.onPools(Fixtures.model("m", 0, 1), "l4"));
    expect(mdConditions("m"), ConditionTypes.PLACED, "False", "ZeroGpusOnGpuPool", null);

    client
        .resources(ModelDeployment.class)
        .inNamespace(NS)
        .withName("m")
        .edit(
            m -> {
              m.getSpec().setPlacement(null);
              return m;
            });
    expect(mdConditions("m"), ConditionTypes.PLACED, "True", "CpuOnly", null);
  }

  @Test
  void adapterForAMissingDeploymentRecoversWhenTheDeploymentAppears() {
    LoraAdapter adapter = new LoraAdapter();
    adapter.setMetadata(new ObjectMetaBuilder().withName("acme-support").withNamespace(NS).build());
    LoraAdapterSpec spec = new LoraAdapterSpec();
    spec.setModelDeployment("tiny");
    spec.setSource("s3://adapters/acme-support");
    spec.setTenant("acme");
    spec.setRank(8);
    adapter.setSpec(spec);
    create(adapter);
    Supplier<List<Condition>> conditions =
        () -> {
          LoraAdapter a =
              client.resources(LoraAdapter.class).inNamespace(NS).withName("acme-support").get();
          return a.getStatus() == null ? List.of() : a.getStatus().getConditions();
        };
    expect(
        conditions,
        ConditionTypes.VALIDATED,
        "False",
        "ModelDeploymentNotFound",
        "ModelDeployment tiny does not exist in models");
    assertThat(events(NS, "acme-support")).contains("ValidationFailed");

    create(Fixtures.model("tiny"));
    expect(conditions, ConditionTypes.VALIDATED, "True", "SpecChecked", null);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(events(NS, "acme-support"))
                    .as("the recovery is an Event")
                    .contains("Validated"));
    LoraAdapter validated =
        client.resources(LoraAdapter.class).inNamespace(NS).withName("acme-support").get();
    assertThat(validated.getStatus().getServedName()).isEqualTo("tiny:acme-support");
    assertThat(validated.getStatus().getRank()).isEqualTo(8);

    // Lowering the base's max rank below the adapter's invalidates it.
    client
        .resources(ModelDeployment.class)
        .inNamespace(NS)
        .withName("tiny")
        .edit(
            m -> {
              m.getSpec().getEngine().setMaxLoraRank(4);
              return m;
            });
    expect(conditions, ConditionTypes.VALIDATED, "False", "RankTooHigh", null);
  }

  @Test
  void tenantWithAMissingSecretThenAnUnlabelledOneThenAPlainKeyThenAHash() {
    create(tenant("acme", "acme-keys"));
    Supplier<List<Condition>> conditions = tenantConditions("acme");
    expect(
        conditions,
        ConditionTypes.READY,
        "False",
        "SecretNotFound",
        "Secret models/acme-keys does not exist or lacks the label flotilla.dev/tenant-keys=true");
    assertThat(events("default", "acme")).contains("TenantNotReady");

    // Without the label the operator never receives the Secret, whatever it holds.
    create(
        new SecretBuilder()
            .withNewMetadata()
            .withName("acme-keys")
            .withNamespace(NS)
            .endMetadata()
            .addToStringData("demo", "flk_acme_demo_7f3c9a1e5b2d")
            .build());
    // A labelled Secret created after it comes through the same watch, and its tenant is checked.
    create(keySecret("globex-keys", HASH));
    create(tenant("globex", "globex-keys"));
    expect(tenantConditions("globex"), ConditionTypes.READY, "True", "ApiKeysFound", null);
    expect(conditions, ConditionTypes.READY, "False", "SecretNotFound", null);

    client
        .secrets()
        .inNamespace(NS)
        .withName("acme-keys")
        .edit(
            s ->
                new SecretBuilder(s)
                    .editMetadata()
                    .addToLabels(SecretKeyReference.LABEL, SecretKeyReference.LABEL_VALUE)
                    .endMetadata()
                    .build());
    expect(conditions, ConditionTypes.READY, "False", "NotAHash", null);

    client
        .secrets()
        .inNamespace(NS)
        .withName("acme-keys")
        .edit(
            s ->
                new SecretBuilder(s)
                    .withData(null)
                    .withStringData(java.util.Map.of("demo", HASH))
                    .build());
    expect(conditions, ConditionTypes.READY, "True", "ApiKeysFound", null);
    assertThat(client.resources(Tenant.class).withName("acme").get().getStatus().getApiKeys())
        .isEqualTo(1);
  }

  static Tenant tenant(String name, String secret) {
    Tenant tenant = new Tenant();
    tenant.setMetadata(new ObjectMetaBuilder().withName(name).build());
    TenantSpec spec = new TenantSpec();
    SecretKeyReference ref = new SecretKeyReference();
    ref.setNamespace(NS);
    ref.setName(secret);
    spec.setApiKeySecrets(List.of(ref));
    tenant.setSpec(spec);
    return tenant;
  }

  static Secret keySecret(String name, String hash) {
    return new SecretBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(NS)
        .addToLabels(SecretKeyReference.LABEL, SecretKeyReference.LABEL_VALUE)
        .endMetadata()
        .addToStringData("demo", hash)
        .build();
  }

  Supplier<List<Condition>> tenantConditions(String name) {
    return () -> {
      Tenant t = client.resources(Tenant.class).withName(name).get();
      return t.getStatus() == null ? List.of() : t.getStatus().getConditions();
    };
  }
}
