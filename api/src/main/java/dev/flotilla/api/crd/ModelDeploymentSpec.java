package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.kubernetes.model.annotation.SpecReplicas;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelDeploymentSpec {
  @Required
  @JsonPropertyDescription("The base model's files and how to hold them.")
  private ModelSource model;

  @JsonPropertyDescription("Limits the worker's engine is created with.")
  private EngineLimits engine;

  @JsonPropertyDescription("What each worker replica gets.")
  private ReplicaResources resources;

  @JsonPropertyDescription("Which GpuNodePools the replicas may run on.")
  private Placement placement;

  @JsonPropertyDescription("Autoscaling bounds and timing.")
  private Scaling scaling;

  @SpecReplicas
  @Min(0)
  @JsonPropertyDescription(
      "Replicas set by `kubectl scale` or an HPA through the scale subresource. When set it pins"
          + " the replica count (still bounded by scaling.maxReplicas) and the built-in autoscaler"
          + " stands aside; remove it to hand control back to the autoscaler.")
  private Integer replicas;

  @JsonPropertyDescription("Worker container image; the operator's default when unset.")
  private String image;

  public ModelSource getModel() {
    return model;
  }

  public void setModel(ModelSource model) {
    this.model = model;
  }

  public EngineLimits getEngine() {
    return engine;
  }

  public void setEngine(EngineLimits engine) {
    this.engine = engine;
  }

  public ReplicaResources getResources() {
    return resources;
  }

  public void setResources(ReplicaResources resources) {
    this.resources = resources;
  }

  public Placement getPlacement() {
    return placement;
  }

  public void setPlacement(Placement placement) {
    this.placement = placement;
  }

  public Scaling getScaling() {
    return scaling;
  }

  public void setScaling(Scaling scaling) {
    this.scaling = scaling;
  }

  public Integer getReplicas() {
    return replicas;
  }

  public void setReplicas(Integer replicas) {
    this.replicas = replicas;
  }

  public String getImage() {
    return image;
  }

  public void setImage(String image) {
    this.image = image;
  }
}
