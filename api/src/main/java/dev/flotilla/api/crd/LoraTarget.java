package dev.flotilla.api.crd;

/** Projections of a Llama-family layer that a LoRA adapter may modify (PEFT names). */
public enum LoraTarget {
  q_proj,
  k_proj,
  v_proj,
  o_proj,
  gate_proj,
  up_proj,
  down_proj
}
