package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class TenantSpec {
  @JsonPropertyDescription("Human-readable name.")
  private String displayName;

  @Required
  @Size(min = 1, max = 16)
  @JsonPropertyDescription(
      "Secrets holding the tenant's API-key hashes. Each must carry the label"
          + " flotilla.dev/tenant-keys=true and live in a namespace the gateways read API keys"
          + " from (the chart's tenantSecretNamespaces).")
  private List<SecretKeyReference> apiKeySecrets;

  @JsonPropertyDescription(
      "ModelDeployments the tenant may call, as namespace/name or name; \"*\" allows all.")
  private List<String> allowedModels;

  private TenantLimits limits;

  @Min(1)
  @Max(1000)
  @Default("1")
  @JsonPropertyDescription("Share of contended capacity relative to other tenants.")
  private Integer weight;

  @Default("Normal")
  private Priority priority;

  public String getDisplayName() {
    return displayName;
  }

  public void setDisplayName(String displayName) {
    this.displayName = displayName;
  }

  public List<SecretKeyReference> getApiKeySecrets() {
    return apiKeySecrets;
  }

  public void setApiKeySecrets(List<SecretKeyReference> apiKeySecrets) {
    this.apiKeySecrets = apiKeySecrets;
  }

  public List<String> getAllowedModels() {
    return allowedModels;
  }

  public void setAllowedModels(List<String> allowedModels) {
    this.allowedModels = allowedModels;
  }

  public TenantLimits getLimits() {
    return limits;
  }

  public void setLimits(TenantLimits limits) {
    this.limits = limits;
  }

  public Integer getWeight() {
    return weight;
  }

  public void setWeight(Integer weight) {
    this.weight = weight;
  }

  public Priority getPriority() {
    return priority;
  }

  public void setPriority(Priority priority) {
    this.priority = priority;
  }
}
