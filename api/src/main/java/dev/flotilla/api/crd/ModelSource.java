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
      "Hugging Face model directory: file:///path, pvc://claim/path (later hf://org/name, s3://bucket/path).")
  private String source;

  @JsonPropertyDescription("Element type to hold weights in; unset keeps the files' dtype.")
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
