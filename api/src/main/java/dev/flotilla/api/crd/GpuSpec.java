package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class GpuSpec {
  @Required
  @JsonPropertyDescription("GPU product as the nodes label it, e.g. NVIDIA-L4.")
  private String product;

  @Required
  @Pattern(FlotillaResources.QUANTITY_PATTERN)
  @JsonPropertyDescription("Memory of one GPU, e.g. 24Gi.")
  private String memory;

  @Min(1)
  @Max(16)
  @Default("1")
  @JsonPropertyDescription("GPUs on each node.")
  private Integer perNode;

  public String getProduct() {
    return product;
  }

  public void setProduct(String product) {
    this.product = product;
  }

  public String getMemory() {
    return memory;
  }

  public void setMemory(String memory) {
    this.memory = memory;
  }

  public Integer getPerNode() {
    return perNode;
  }

  public void setPerNode(Integer perNode) {
    this.perNode = perNode;
  }
}
