package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelDeploymentStatus {
  private Long observedGeneration;

  @StatusReplicas
  @JsonPropertyDescription("Worker replicas that exist.")
  private Integer replicas;

  private Integer readyReplicas;

  @JsonPropertyDescription("Replicas the autoscaler (or spec.replicas) asks for.")
  private Integer desiredReplicas;

  @JsonPropertyDescription("GpuNodePool the replicas are placed on.")
  private String pool;

  @JsonPropertyDescription("host:port of the workers' headless Service, for gateways.")
  private String endpoint;

  @LabelSelector
  @JsonPropertyDescription("Label selector of the worker pods, for the scale subresource.")
  private String selector;

  private AutoscalerState autoscaler;

  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Integer getReplicas() {
    return replicas;
  }

  public void setReplicas(Integer replicas) {
    this.replicas = replicas;
  }

  public Integer getReadyReplicas() {
    return readyReplicas;
  }

  public void setReadyReplicas(Integer readyReplicas) {
    this.readyReplicas = readyReplicas;
  }

  public Integer getDesiredReplicas() {
    return desiredReplicas;
  }

  public void setDesiredReplicas(Integer desiredReplicas) {
    this.desiredReplicas = desiredReplicas;
  }

  public String getPool() {
    return pool;
  }

  public void setPool(String pool) {
    this.pool = pool;
  }

  public String getEndpoint() {
    return endpoint;
  }

  public void setEndpoint(String endpoint) {
    this.endpoint = endpoint;
  }

  public String getSelector() {
    return selector;
  }

  public void setSelector(String selector) {
    this.selector = selector;
  }

  public AutoscalerState getAutoscaler() {
    return autoscaler;
  }

  public void setAutoscaler(AutoscalerState autoscaler) {
    this.autoscaler = autoscaler;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
