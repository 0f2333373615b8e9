"""Ready-made pipelines and requirement sets (product input from the source article).

A field is (key, label, type, options); a stage lists the field keys it requires on
entry and on exit. Templates create real fields and requirements, editable afterwards.
A template's "buyer" lists the requirements only the buyer's confirmation in the deal room
meets (StageRequirement.buyer): what the buyer says, not what the rep believes.
"""

HANDOFF = ("onboarding_handoff", "Onboarding hand-off context", "long_text",
           {"help_text": "Who onboarding should call, what was promised, the documented context."})
CONTRACT = ("contract_signed", "Contract signed", "checkbox", {})

TEMPLATES = {
    "b2b": {
        "name": "B2B sales",
        "description": "The 7-stage B2B workflow: prospecting to closing, with Won and Lost.",
        "allow_skip": True,
        "fields": [
            ("icp_match", "Matches our ICP", "checkbox", {}),
            ("first_contact_date", "First contact made on", "date", {}),
            ("budget", "Budget", "money", {}),
            ("authority", "Decision maker", "contact", {"contact_role": "decision_maker"}),
            ("need", "Need", "long_text", {}),
            ("timeline", "Decision timeline", "date", {}),
            ("pain_points", "Real problems uncovered", "long_text", {}),
            ("demo_date", "Tailored demo date", "date", {}),
            ("objections", "Objections raised and answered", "long_text", {}),
            ("next_action", "Next action agreed", "text", {}),
            ("next_action_date", "Next action date", "date", {"future_only": True}),
            CONTRACT,
            HANDOFF,
        ],
        "stages": [
            ("Prospecting", "Company and contact match our ICP", 5, [], ["icp_match"],
             "Use intent data, referrals, social selling and inbound sources. Fifty well-researched "
             "prospects outperform five hundred cold names."),
            ("Outreach", "Prospect has been contacted on several channels", 10, [], ["first_contact_date"],
             "Multi-touch: a personalised email, a LinkedIn connection and a follow-up call. Build a "
             "cadence of one to four weeks that does not go silent after one message."),
            ("Qualification", "Budget, authority, need and timeline are confirmed", 20, [],
             ["budget", "authority", "need", "timeline"],
             "Ask direct questions early (BANT or MEDDIC). A discovery call that skips qualification "
             "wastes everyone's time."),
            ("Discovery", "Buyer has shared the real problems behind the request", 30, [], ["pain_points"],
             "Your most important stage. Open questions, silence, summary statements. Listen more "
             "than you talk."),
            ("Presentation/Demo", "Buyer has seen a demo tailored to their situation", 50, ["demo_date"], [],
             "Reference their team size, their situation and their stated objections. Generic demos "
             "lose to tailored ones."),
            ("Objection handling", "Buyer's objections are on the table and answered", 65, [], ["objections"],
             "Keep a written objection guide: the five most common objections in your market, three "
             "responses to each. Objections are buying signals when handled well."),
            ("Closing", "Buyer has agreed a specific next action", 80, ["next_action", "next_action_date"], [],
             "Ask for the business clearly. Not 'I'll follow up next week' but 'Can we schedule the "
             "contract review for Thursday?'"),
        ],
        "meeting": "Discovery",
        "won": ("Won", [c[0] for c in (CONTRACT, HANDOFF)], []),
        "lost": "Lost",
        "buyer": ["contract_signed"],
    },
    "article": {
        "name": "Article five-stage",
        "description": "The source article's five-stage pipeline with its entry and exit criteria.",
        "allow_skip": False,
        "fields": [
            ("icp_confirmed", "ICP confirmed", "checkbox", {}),
            ("pain", "Pain identified", "long_text", {}),
            ("budget_range", "Budget range captured", "money", {}),
            ("decision_maker", "Decision maker identified", "contact", {"contact_role": "decision_maker"}),
            ("dm_meeting_date", "DM meeting scheduled", "date", {}),
            ("needs", "Needs documented", "long_text", {}),
            ("next_steps", "Next steps agreed", "text", {}),
            ("proposal_drafted", "Custom proposal drafted", "checkbox", {}),
            ("proposal_acknowledged", "Proposal sent and acknowledged", "checkbox", {}),
            ("verbal_interest", "Verbal interest confirmed", "checkbox", {}),
            ("terms_status", "Terms accepted or revised", "choice", {"choices": ["Accepted", "Revised"]}),
            CONTRACT,
            HANDOFF,
            ("handoff_completed", "Onboarding handoff completed", "checkbox", {}),
        ],
        "stages": [
            ("Qualified", "ICP fit confirmed and a pain identified", 10,
             ["icp_confirmed", "pain"], ["budget_range", "decision_maker"],
             "Confirm the ICP fit and the pain. To leave: capture a budget range and name the "
             "decision maker."),
            ("Discovery", "Decision maker has agreed to meet", 25,
             ["dm_meeting_date"], ["needs", "next_steps"],
             "Front-load research; open questions, silence, summary statements. To leave: document "
             "the needs and agree the next steps."),
            ("Proposal", "A custom proposal exists for this buyer", 50,
             ["proposal_drafted"], ["proposal_acknowledged"],
             "Send the proposal and get it acknowledged, ideally reviewed live with the economic buyer."),
            ("Negotiation", "Buyer has confirmed verbal interest", 75,
             ["verbal_interest"], ["terms_status"],
             "Work the terms to accepted or revised. Handle objections with your written guide."),
        ],
        "meeting": "Discovery",
        "won": ("Closed Won", ["contract_signed", "onboarding_handoff"], ["handoff_completed"]),
        "lost": "Closed Lost",
        "buyer": ["dm_meeting_date", "proposal_acknowledged", "terms_status", "contract_signed"],
    },
    "insurance": {
        "name": "Insurance agency",
        "description": "Personal and commercial lines: from lead to a bound policy.",
        "allow_skip": True,
        "fields": [
            ("line_of_business", "Line of business", "choice",
             {"choices": ["Auto", "Home", "Life", "Health", "Commercial"]}),
            ("insured", "Insured (decision maker)", "contact", {"contact_role": "decision_maker"}),
            ("current_carrier", "Current carrier", "text", {}),
            ("renewal_date", "Renewal date", "date", {}),
            ("coverage_needs", "Coverage needs documented", "long_text", {}),
            ("quote_premium", "Quoted premium", "money", {}),
            ("quote_presented", "Quote presented to the insured", "checkbox", {}),
            ("application_signed", "Application signed", "checkbox", {}),
            ("policy_number", "Policy number", "text", {}),
            HANDOFF,
        ],
        "stages": [
            ("New lead", "We know who they are and what line they need", 5, [], ["line_of_business", "insured"],
             "Call within the hour. Confirm the line of business and who signs."),
            ("Contacted", "Insured has talked to us and shared their renewal date", 15, [],
             ["current_carrier", "renewal_date"],
             "Ask about the current carrier, renewal date and what they dislike about their cover."),
            ("Needs assessment", "Coverage needs are documented with the insured", 30, [], ["coverage_needs"],
             "Walk through assets, risks and gaps. Summarise the needs back to them."),
            ("Quoting", "Quotes are being prepared", 50, [], ["quote_premium"],
             "Shop the markets that fit. Record the premium you will present."),
            ("Quote presented", "Insured has seen the quote", 70, ["quote_presented"], ["application_signed"],
             "Present in person or on a call, never by email alone. Get the application signed."),
        ],
        "meeting": "Needs assessment",
        "won": ("Bound", ["policy_number", "onboarding_handoff"], []),
        "lost": "Lost",
        "buyer": ["application_signed"],
    },
}

REQUIREMENT_SETS = {
    "bant": {
        "name": "BANT",
        "best_for": "Transactional, shorter-cycle sales",
        "fields": [
            ("budget", "Budget", "money", {}),
            ("authority", "Authority (decision maker)", "contact", {"contact_role": "decision_maker"}),
            ("need", "Need", "long_text", {}),
            ("timeline", "Timeline", "date", {}),
        ],
    },
    "meddic": {
        "name": "MEDDIC",
        "best_for": "Complex, enterprise-level deals",
        "fields": [
            ("metrics", "Metrics", "long_text", {"help_text": "The measurable gain the buyer expects."}),
            ("economic_buyer", "Economic buyer", "contact", {"contact_role": "economic_buyer"}),
            ("decision_criteria", "Decision criteria", "long_text", {}),
            ("decision_process", "Decision process", "long_text", {}),
            ("identified_pain", "Identified pain", "long_text", {}),
            ("champion", "Champion", "contact", {"contact_role": "champion"}),
        ],
    },
}

LOSS_REASONS = ["Price", "Timing", "Chose a competitor", "No decision", "Not a fit", "Went dark"]
