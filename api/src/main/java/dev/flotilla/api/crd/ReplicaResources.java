package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ReplicaResources {
  @Min(0)
  @Max(16)
  @Default("1")
  @JsonPropertyDescription("GPUs per replica (nvidia.com/gpu); 0 runs the worker on CPU.")
  private Integer gpus;

  @Pattern(FlotillaResources.QUANTITY_PATTERN)
  @JsonPropertyDescription("Host memory request and limit per replica.")
  private String memory;

  @Pattern("^[0-9]+(\\.[0-9]+)?m?$")
  @JsonPropertyDescription("CPU request per replica, e.g. 2 or 500m.")
  private String cpu;

  public Integer getGpus() {
    return gpus;
  }

  public void setGpus(Integer gpus) {
    this.gpus = gpus;
  }

  public String getMemory() {
    return memory;
  }

  public void setMemory(String memory) {
    this.memory = memory;
  }

  public String getCpu() {
    return cpu;
  }

  public void setCpu(String cpu) {
    this.cpu = cpu;
  }
}
