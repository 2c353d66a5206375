package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class Placement {
  @JsonPropertyDescription(
      "GpuNodePools allowed, in order of preference; any fitting pool when empty.")
  private List<String> pools;

  @JsonPropertyDescription("Only pools whose GPU product matches, e.g. NVIDIA-L4.")
  private String gpuProduct;

  public List<String> getPools() {
    return pools;
  }

  public void setPools(List<String> pools) {
    this.pools = pools;
  }

  public String getGpuProduct() {
    return gpuProduct;
  }

  public void setGpuProduct(String gpuProduct) {
    this.gpuProduct = gpuProduct;
  }
}
