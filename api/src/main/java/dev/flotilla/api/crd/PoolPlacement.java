package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One ModelDeployment placed on a pool and the GPUs reserved for it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PoolPlacement {
  private String namespace;
  private String name;
  private Integer maxReplicas;
  private Integer gpus;

  public String getNamespace() {
    return namespace;
  }

  public void setNamespace(String namespace) {
    this.namespace = namespace;
  }

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  public Integer getMaxReplicas() {
    return maxReplicas;
  }

  public void setMaxReplicas(Integer maxReplicas) {
    this.maxReplicas = maxReplicas;
  }

  public Integer getGpus() {
    return gpus;
  }

  public void setGpus(Integer gpus) {
    this.gpus = gpus;
  }
}
