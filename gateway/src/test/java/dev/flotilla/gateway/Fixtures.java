package dev.flotilla.gateway;

import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.EngineLimits;
import dev.flotilla.api.crd.LoraAdapter;
import dev.flotilla.api.crd.LoraAdapterSpec;
import dev.flotilla.api.crd.LoraAdapterStatus;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentSpec;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.Scaling;
import dev.flotilla.api.crd.SecretKeyReference;
import dev.flotilla.api.crd.Tenant;
import dev.flotilla.api.crd.TenantLimits;
import dev.flotilla.api.crd.TenantSpec;
import dev.flotilla.api.crd.Visibility;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/** Custom resources and Secrets as tests need them. */
public final class Fixtures {
  private Fixtures() {}

  public static String sha256Entry(String key) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return "sha256:" + HexFormat.of().formatHex(d);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A Secret as the API returns it: values base64-encoded under {@code data}. */
  /** An API-key Secret, labelled as the gateway's informers select them. */
  public static Secret keySecret(String namespace, String name, String... entries) {
    return new SecretBuilder(unlabelledSecret(namespace, name, entries))
        .editMetadata()
        .addToLabels(SecretKeyReference.LABEL, SecretKeyReference.LABEL_VALUE)
        .endMetadata()
        .build();
  }

  /** A Secret with the same entries but without the API-key label. */
  public static Secret unlabelledSecret(String namespace, String name, String... entries) {
    SecretBuilder b =
        new SecretBuilder().withNewMetadata().withNamespace(namespace).withName(name).endMetadata();
    for (int i = 0; i < entries.length; i += 2) {
      b.addToData(
          entries[i],
          Base64.getEncoder().encodeToString(entries[i + 1].getBytes(StandardCharsets.UTF_8)));
    }
    return b.build();
  }

  public static Tenant tenant(
      String name,
      String secretName,
      List<String> allowedModels,
      int weight,
      Priority priority,
      TenantLimits limits) {
    Tenant t = new Tenant();
    t.setMetadata(new ObjectMetaBuilder().withName(name).build());
    TenantSpec spec = new TenantSpec();
    SecretKeyReference ref = new SecretKeyReference();
    ref.setNamespace("default");
    ref.setName(secretName);
    spec.setApiKeySecrets(List.of(ref));
    spec.setAllowedModels(allowedModels);
    spec.setWeight(weight);
    spec.setPriority(priority);
    spec.setLimits(limits);
    t.setSpec(spec);
    return t;
  }

  public static ModelDeployment model(String namespace, String name, String coldStartTimeout) {
    ModelDeployment md = new ModelDeployment();
    md.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    ModelDeploymentSpec spec = new ModelDeploymentSpec();
    EngineLimits engine = new EngineLimits();
    engine.setMaxSequenceLength(2048);
    spec.setEngine(engine);
    Scaling scaling = new Scaling();
    scaling.setColdStartTimeout(coldStartTimeout);
    spec.setScaling(scaling);
    md.setSpec(spec);
    return md;
  }

  /** An adapter whose Validated condition the operator set to False with {@code message}. */
  public static LoraAdapter rejectedAdapter(
      String namespace, String name, String model, String tenant, String message) {
    LoraAdapter a = adapter(namespace, name, model, tenant, Visibility.Private);
    LoraAdapterStatus status = new LoraAdapterStatus();
    status.setConditions(
        List.of(
            new ConditionBuilder()
                .withType(ConditionTypes.VALIDATED)
                .withStatus("False")
                .withReason("RankTooLarge")
                .withMessage(message)
                .build()));
    a.setStatus(status);
    return a;
  }

  public static LoraAdapter adapter(
      String namespace, String name, String model, String tenant, Visibility visibility) {
    LoraAdapter a = new LoraAdapter();
    a.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    LoraAdapterSpec spec = new LoraAdapterSpec();
    spec.setModelDeployment(model);
    spec.setSource("file:///adapters/" + name);
    spec.setTenant(tenant);
    spec.setVisibility(visibility);
    spec.setRank(8);
    a.setSpec(spec);
    return a;
  }
}
