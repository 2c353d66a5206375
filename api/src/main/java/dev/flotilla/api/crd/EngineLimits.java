package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class EngineLimits {
  @Min(1)
  @Max(4096)
  @Default("32")
  @JsonPropertyDescription("Most sequences in one engine step.")
  private Integer maxBatchSize;

  @Min(16)
  @Max(1048576)
  @Default("2048")
  @JsonPropertyDescription("Longest prompt plus completion, in tokens.")
  private Integer maxSequenceLength;

  @Pattern(FlotillaResources.QUANTITY_PATTERN)
  @Default("1Gi")
  @JsonPropertyDescription("Memory for the paged KV cache per replica.")
  private String kvCacheMemory;

  @Min(1)
  @Max(256)
  @Default("16")
  @JsonPropertyDescription("Tokens per KV-cache block.")
  private Integer kvBlockSize;

  @Default("bf16")
  @JsonPropertyDescription(
      "Element type of the KV cache: bf16 (the default; kvCacheMemory holds twice the tokens of"
          + " f32) or f32 (exact; CPU replicas only, the GPU engine keeps bf16).")
  private KvCacheDtype kvCacheDtype;

  @Min(0)
  @Max(1024)
  @JsonPropertyDescription(
      "Most adapters resident at once per replica. Unset: as many as kvCacheMemory holds, since"
          + " adapters are paged in the KV cache's memory and the least recently used idle ones"
          + " are evicted when sequences need the room. 0 turns adapters off.")
  private Integer maxAdaptersResident;

  @Default("true")
  @JsonPropertyDescription(
      "Reuse the KV blocks cached for a prompt's longest cached prefix (same adapter, same"
          + " tokens) and compute only the rest; cached blocks are reclaimed least recently used"
          + " when sequences need the room. false computes every prompt in full.")
  private Boolean prefixCache;

  @Min(1)
  @Max(256)
  @Default("64")
  @JsonPropertyDescription("Highest LoRA rank accepted for this model.")
  private Integer maxLoraRank;

  @Min(0)
  @Max(1024)
  @JsonPropertyDescription("Engine threads; 0 or unset sizes them from the replica's CPUs.")
  private Integer threads;

  public Integer getMaxBatchSize() {
    return maxBatchSize;
  }

  public void setMaxBatchSize(Integer maxBatchSize) {
    this.maxBatchSize = maxBatchSize;
  }

  public Integer getMaxSequenceLength() {
    return maxSequenceLength;
  }

  public void setMaxSequenceLength(Integer maxSequenceLength) {
    this.maxSequenceLength = maxSequenceLength;
  }

  public String getKvCacheMemory() {
    return kvCacheMemory;
  }

  public void setKvCacheMemory(String kvCacheMemory) {
    this.kvCacheMemory = kvCacheMemory;
  }

  public Integer getKvBlockSize() {
    return kvBlockSize;
  }

  public void setKvBlockSize(Integer kvBlockSize) {
    this.kvBlockSize = kvBlockSize;
  }

  public KvCacheDtype getKvCacheDtype() {
    return kvCacheDtype;
  }

  public void setKvCacheDtype(KvCacheDtype kvCacheDtype) {
    this.kvCacheDtype = kvCacheDtype;
  }

  public Integer getMaxAdaptersResident() {
    return maxAdaptersResident;
  }

  public void setMaxAdaptersResident(Integer maxAdaptersResident) {
    this.maxAdaptersResident = maxAdaptersResident;
  }

  public Boolean getPrefixCache() {
    return prefixCache;
  }

  public void setPrefixCache(Boolean prefixCache) {
    this.prefixCache = prefixCache;
  }

  public Integer getMaxLoraRank() {
    return maxLoraRank;
  }

  public void setMaxLoraRank(Integer maxLoraRank) {
    this.maxLoraRank = maxLoraRank;
  }

  public Integer getThreads() {
    return threads;
  }

  public void setThreads(Integer threads) {
    this.threads = threads;
  }
}
