package dev.flotilla.operator.lora;

import java.util.List;

/**
 * The outcome of validating a LoraAdapter against its base.
 *
 * @param rank the rank found (files) or declared (spec); null when unknown
 * @param targetModules the modules found or declared; null when unknown
 */
public record AdapterCheck(
    boolean valid, String reason, String message, Integer rank, List<String> targetModules) {
  public static AdapterCheck invalid(String reason, String message) {
    return new AdapterCheck(false, reason, message, null, null);
  }

  public static final String MODEL_NOT_FOUND = "ModelDeploymentNotFound";
  public static final String RANK_TOO_HIGH = "RankTooHigh";
  public static final String UNKNOWN_TARGET = "UnknownTargetModule";
  public static final String FILES_MISSING = "FilesMissing";
  public static final String BAD_FILES = "BadAdapterFiles";
  public static final String SHAPE_MISMATCH = "ShapeMismatch";
  public static final String SPEC_MISMATCH = "SpecMismatch";
  public static final String FILES_CHECKED = "FilesChecked";
  public static final String SPEC_CHECKED = "SpecChecked";
}
