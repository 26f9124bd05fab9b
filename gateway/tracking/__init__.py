"""Tracking: durable clocks, acknowledgements, Return Home Interviews, escalations, repeats.

Events and sent deliveries start clocks (`listener`, wired by `wiring.install(services)`);
a scheduler tick fires the due ones once each (`clocks`, Celery task `tasks.tick`); firing
a clock chases by message through the outbox (`chase`) or raises a coordinator item.

Clock kinds (rows of `clocks`; subject_type "episode" unless said):
  strategy_discussion, police_update, nar_cap, long_term_missing   (episodes.py)
  rhi_reminder, rhi_breach, rhi_copy_reminder, rhi_copy_escalation,
  rhi_copy_follow_up                                               (rhi.py)
  ack_received, ack_accepted             subject_type "delivery"   (acks.py)
  away_from_placement                    subject_type "away"       (episodes.py)
A fired clock's `data["outcome"]` says what it did: breach, chased, reminded, escalated,
resent, alternate, satisfied or moot.

The API others call (`service.Tracker`, from `wiring.tracker(services)`):
  tick(now), record_ack(session, delivery_id, stage, now), record_acks(session, receipts),
  record_attempt(session, rhi_id, ...), record_outcome(session, rhi_id, outcome, ...);
`rhi.rhi_for_episode(session, episode_id)` finds an episode's RHI record, and
`figures.coordinator_figures(session, now)` the figures of DOMAIN.md §7.
"""
