package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelSource {
  @Required
  @Pattern(FlotillaResources.SOURCE_PATTERN)
  @JsonPropertyDescription(
      "Hugging Face model directory: file:///path, pvc://claim/path (mounted read-only),"
          + " hf://org/repo[@revision] or s3://bucket/prefix (downloaded by each worker at start).")
  private String source;

  @Pattern(FlotillaResources.NAME_PATTERN)
  @JsonPropertyDescription(
      "Secret (same namespace) the workers read download settings from, each key optional:"
          + " HF_TOKEN and HF_ENDPOINT for hf://; AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,"
          + " AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT_URL_S3 for s3:// (without keys, the"
          + " pod's identity). Adapters loaded on these workers use it too.")
  private String credentialsSecret;

  @Pattern(FlotillaResources.NAME_PATTERN)
  @JsonPropertyDescription(
      "PersistentVolumeClaim that hf:// and s3:// downloads are kept on, so a restart or another"
          + " replica (ReadWriteMany) reuses them; an emptyDir per pod when unset.")
  private String cacheClaim;

  @JsonPropertyDescription(
      "Element type to hold weights in; unset keeps the files' dtype. INT8 quantizes F32/F16/BF16"
          + " weights to int8 per output channel at load (CPU workers only).")
  private Dtype dtype;

  @Pattern(FlotillaResources.QUANTITY_PATTERN)
  @JsonPropertyDescription(
      "Memory the weights take per replica, used for placement; read from the files when unset.")
  private String weightsMemory;

  public String getSource() {
    return source;
  }

  public void setSource(String source) {
    this.source = source;
  }

  public String getCredentialsSecret() {
    return credentialsSecret;
  }

  public void setCredentialsSecret(String credentialsSecret) {
    this.credentialsSecret = credentialsSecret;
  }

  public String getCacheClaim() {
    return cacheClaim;
  }

  public void setCacheClaim(String cacheClaim) {
    this.cacheClaim = cacheClaim;
  }

  public Dtype getDtype() {
    return dtype;
  }

  public void setDtype(Dtype dtype) {
    this.dtype = dtype;
  }

  public String getWeightsMemory() {
    return weightsMemory;
  }

  public void setWeightsMemory(String weightsMemory) {
    this.weightsMemory = weightsMemory;
  }
}
