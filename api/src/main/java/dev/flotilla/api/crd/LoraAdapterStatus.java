package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class LoraAdapterStatus {
  private Long observedGeneration;

  @JsonPropertyDescription("Rank read from the adapter's files.")
  private Integer rank;

  @JsonPropertyDescription("Target modules read from the adapter's files.")
  private List<String> targetModules;

  @JsonPropertyDescription("Name clients use for it: <modelDeployment>:<adapter>.")
  private String servedName;

  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Integer getRank() {
    return rank;
  }

  public void setRank(Integer rank) {
    this.rank = rank;
  }

  public List<String> getTargetModules() {
    return targetModules;
  }

  public void setTargetModules(List<String> targetModules) {
    this.targetModules = targetModules;
  }

  public String getServedName() {
    return servedName;
  }

  public void setServedName(String servedName) {
    this.servedName = servedName;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
