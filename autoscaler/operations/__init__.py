"""Operations: persisted, resumable scale operations carried out through targets (DESIGN §6)."""
