package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "(has(self.visibility) && self.visibility == 'Public') || has(self.tenant)",
    message = "a Private adapter needs an owning tenant")
public class LoraAdapterSpec {
  @Required
  @Pattern(FlotillaResources.NAME_PATTERN)
  @JsonPropertyDescription(
      "Name of the ModelDeployment (same namespace) whose base model this adapts.")
  private String modelDeployment;

  @Required
  @Pattern(FlotillaResources.SOURCE_PATTERN)
  @JsonPropertyDescription(
      "PEFT adapter directory (adapter_config.json, adapter_model.safetensors): file:///path,"
          + " pvc://claim/path (the base's workers mount the claim read-only),"
          + " hf://org/repo[@revision] or s3://bucket/prefix (downloaded at load with the"
          + " ModelDeployment's credentialsSecret).")
  private String source;

  @Pattern(FlotillaResources.NAME_PATTERN)
  @JsonPropertyDescription("Tenant that owns the adapter; required when Private.")
  private String tenant;

  @Default("Private")
  @JsonPropertyDescription(
      "Private: only the owning tenant; Public: every tenant allowed on the model.")
  private Visibility visibility;

  @Min(1)
  @Max(256)
  @JsonPropertyDescription("Expected LoRA rank; checked against the files when set.")
  private Integer rank;

  @JsonPropertyDescription("Expected target modules; checked against the files when set.")
  private List<LoraTarget> targetModules;

  public String getModelDeployment() {
    return modelDeployment;
  }

  public void setModelDeployment(String modelDeployment) {
    this.modelDeployment = modelDeployment;
  }

  public String getSource() {
    return source;
  }

  public void setSource(String source) {
    this.source = source;
  }

  public String getTenant() {
    return tenant;
  }

  public void setTenant(String tenant) {
    this.tenant = tenant;
  }

  public Visibility getVisibility() {
    return visibility;
  }

  public void setVisibility(Visibility visibility) {
    this.visibility = visibility;
  }

  public Integer getRank() {
    return rank;
  }

  public void setRank(Integer rank) {
    this.rank = rank;
  }

  public List<LoraTarget> getTargetModules() {
    return targetModules;
  }

  public void setTargetModules(List<LoraTarget> targetModules) {
    this.targetModules = targetModules;
  }
}
