"""Starting playbook content for every pipeline template and requirement set, from the source article.

Discovery: "open questions, silence, and summary statements. Listen more than you talk." Demos:
"reference their team size, their stated objections." Objections: "the five most common objections in
your market and three responses to each." Closing: "hand off to onboarding with a warm introduction and
documented context." A prompt is (kind, text, field key or None); a prompt with a key saves its answer
as that fact, one without it as a note on the deal's timeline.
"""

from app.extensions import db
from app.models import DiscoveryPrompt, Objection, Playbook

SILENCE = ("silence", "Pause. Count to five before you speak again: the real problem usually comes after "
                      "the first answer.", None)
TEAM_SIZE = ("question", "How many people on your team would use this every day, and in which roles?", None)

B2B_OBJECTIONS = [
    ("It's too expensive", [
        "Compared with what it costs you today? You said the current process loses you deals every month; "
        "let's put a number on that together.",
        "Which part feels expensive: the total, the timing of the payment, or the value for one team? "
        "We can phase it.",
        "Teams like yours made it back within a quarter; I can introduce you to one of them.",
    ]),
    ("Now isn't a good time", [
        "What would have to change for the timing to be right? Let's write that down and agree a date to check.",
        "What does waiting a quarter cost you, given the pain you described?",
        "We can start small with one team now and roll out when the rest is ready.",
    ]),
    ("We already use something for this", [
        "What do you like about it, and what made you take this call anyway?",
        "Many of our customers switched from that tool; here is what they kept and what they gained.",
        "Let's compare on the two problems you named, side by side, on your own data.",
    ]),
    ("I need to run it past my boss", [
        "Of course. What will they ask first, and how can I help you answer it?",
        "Would it help if we met with them together, for twenty minutes, this week?",
        "I'll send a one-page summary in their terms: the cost, the gain and the risk.",
    ]),
    ("We're worried about the switch: the migration, the training", [
        "We move your data for you and run both side by side for a month.",
        "Training is one hour per team, recorded; your champion gets a checklist.",
        "Here is the onboarding plan a customer of your size followed, week by week.",
    ]),
]

INSURANCE_OBJECTIONS = [
    ("The premium is higher than I pay now", [
        "Let's compare the cover line by line: the deductibles and limits explain most of the difference.",
        "What would an uncovered claim cost you? That is what the difference buys.",
        "We can adjust the deductible or the limits to bring the premium closer to your budget.",
    ]),
    ("I'm happy with my current carrier", [
        "Good. When did you last compare? Your renewal is the right moment to check you are not overpaying.",
        "What would you change about your cover, if you could change one thing?",
        "I'll show you the same cover side by side; you decide with the numbers in front of you.",
    ]),
    ("I need to talk to my spouse / partner first", [
        "Of course. Shall we set a call with both of you, so they can ask their questions directly?",
        "I'll send a one-page summary of the cover and the premium you can go through together.",
        "What do you think their first question will be? Let's answer it now.",
    ]),
    ("I'm already covered through work", [
        "Work cover usually stops when the job does: let's check what yours leaves out.",
        "Group cover is often a multiple of salary; is that enough for your family's needs?",
        "This cover is yours whatever happens with your job.",
    ]),
    ("I'll wait until my renewal", [
        "Good idea: let's prepare now so you can compare before the renewal date, not after it.",
        "I'll put a reminder for 45 days before the renewal and send the quote then.",
        "Switching mid-term is often possible with a pro-rated refund; shall I check yours?",
    ]),
]

B2B_HANDOFF = ("Introduce the onboarding owner by email and on a call with the buyer's champion: say who they "
               "are, what was promised (the context below), and the first date they will meet. Copy the "
               "decision maker.")
INSURANCE_HANDOFF = ("Call the insured with the account manager: introduce them by name, confirm the policy "
                     "number and start date, and tell the insured who to call for a claim or a change.")

TEMPLATE_PLAYBOOKS = {
    "b2b": {
        "prompts": {
            "Qualification": [
                ("question", "What budget have you set aside for solving this?", "budget"),
                ("question", "Who besides you decides, and who signs? (name, and email if you have it)",
                 "authority"),
                ("question", "What made you look for a solution now?", "need"),
                ("question", "By when do you need to decide?", "timeline"),
                ("summary", "So what I'm hearing is… (say their need back in one sentence; write it here)",
                 None),
            ],
            "Discovery": [
                ("question", "Walk me through how your team handles this today, step by step.", None),
                ("question", "What is the hardest part of that today? What does it cost you when it goes wrong?",
                 "pain_points"),
                SILENCE,
                TEAM_SIZE,
                ("question", "What have you tried already, and why didn't it stick?", None),
                ("summary", "Let me check I have this right… (sum up their problems in their words; write "
                            "what they agreed to)", None),
            ],
            "Presentation/Demo": [
                ("question", "Which of the problems you told me about should the demo show first?", None),
                ("question", "Who else should see it?", None),
            ],
        },
        "objections": B2B_OBJECTIONS,
        "objections_key": "objections",
        "demo_keys": ["authority", "budget", "need", "pain_points", "objections", "timeline"],
        "handoff_intro": B2B_HANDOFF,
    },
    "article": {
        "prompts": {
            "Qualified": [
                ("question", "What problem made you take this call?", "pain"),
                ("question", "What budget range are you working with?", "budget_range"),
                ("question", "Who makes the final decision? (name, and email if you have it)", "decision_maker"),
                SILENCE,
                ("summary", "So the problem is …, the budget is … and … decides. Did I get that right?", None),
            ],
            "Discovery": [
                ("question", "Walk me through how your team does this today.", None),
                ("question", "What would have to be true for this to be a success a year from now?", "needs"),
                SILENCE,
                TEAM_SIZE,
                ("summary", "Let me sum up what I heard… (their needs, in their words)", None),
                ("question", "What is the next step you and I agree on, and when?", "next_steps"),
            ],
        },
        "objections": B2B_OBJECTIONS,
        "objections_key": None,
        "demo_keys": ["decision_maker", "budget_range", "pain", "needs", "next_steps"],
        "handoff_intro": B2B_HANDOFF,
    },
    "insurance": {
        "prompts": {
            "New lead": [
                ("question", "Which cover are you looking for: auto, home, life, health or commercial?",
                 "line_of_business"),
                ("question", "Who will be the insured and sign the application? (name, and email)", "insured"),
            ],
            "Contacted": [
                ("question", "Who are you insured with today?", "current_carrier"),
                ("question", "When does your current policy renew?", "renewal_date"),
                ("question", "What do you dislike about your cover today?", None),
                SILENCE,
            ],
            "Needs assessment": [
                ("question", "Tell me about what you want to protect: the people, the assets, the income.", None),
                ("question", "Which gaps worry you most? What would happen if that went wrong tomorrow?",
                 "coverage_needs"),
                SILENCE,
                ("question", "How many people does this need to cover (household or staff)?", None),
                ("summary", "So you need cover for … and the gap that worries you is …. Is that right?", None),
            ],
        },
        "objections": INSURANCE_OBJECTIONS,
        "objections_key": None,
        "demo_keys": ["insured", "line_of_business", "current_carrier", "renewal_date", "coverage_needs"],
        "handoff_intro": INSURANCE_HANDOFF,
    },
}

# Offered on the playbook editor beside each stage: the qualification frameworks as discovery questions.
SET_PROMPTS = {
    "bant": [
        ("question", "What budget have you set aside for this?", "budget"),
        ("question", "Who decides, and who signs? (name, and email if you have it)", "authority"),
        ("question", "What made you look for a solution now? What happens if you do nothing?", "need"),
        ("question", "By when do you need this decided?", "timeline"),
        SILENCE,
        ("summary", "So: budget …, … decides, the need is …, by …. Did I get that right?", None),
    ],
    "meddic": [
        ("question", "How will you measure success? What number should move, and by how much?", "metrics"),
        ("question", "Who owns the budget this comes out of? (name, and email)", "economic_buyer"),
        ("question", "How will you compare the options? What matters most?", "decision_criteria"),
        ("question", "What are the steps from here to a signed contract, and who is in each?",
         "decision_process"),
        ("question", "What is the pain behind this? What does it cost today?", "identified_pain"),
        SILENCE,
        ("question", "Who inside wants this to happen as much as you do? (name, and email)", "champion"),
        ("summary", "Let me play back what I heard… (metrics, buyer, criteria, process, pain, champion)", None),
    ],
}


def _objections(pipeline, objections) -> None:
    for i, (text, responses) in enumerate(objections, start=1):
        db.session.add(Objection(org_id=pipeline.org_id, pipeline_id=pipeline.id, text=text,
                                 responses=list(responses), position=i))


def seed_playbook(pipeline, template_key: str) -> None:
    """Give a pipeline made from a template its starting playbook (no commit: the caller's transaction)."""
    spec = TEMPLATE_PLAYBOOKS.get(template_key)
    if spec is None:
        return
    db.session.flush()  # the pipeline and its stages need their ids
    keys = {f.key for f in pipeline.fields}
    db.session.add(Playbook(org_id=pipeline.org_id, pipeline_id=pipeline.id,
                            objections_key=spec["objections_key"] if spec["objections_key"] in keys else None,
                            demo_keys=[k for k in spec["demo_keys"] if k in keys],
                            handoff_intro=spec["handoff_intro"]))
    stages = {s.name: s for s in pipeline.stages}
    for stage_name, prompts in spec["prompts"].items():
        stage = stages[stage_name]
        for i, (kind, text, key) in enumerate(prompts, start=1):
            db.session.add(DiscoveryPrompt(org_id=pipeline.org_id, stage_id=stage.id, kind=kind, text=text,
                                           field_key=key if key in keys else None, position=i))
    _objections(pipeline, spec["objections"])


def add_starter_objections(pipeline) -> None:
    """Give a pipeline with an empty guide the article's five common B2B objections (no commit)."""
    _objections(pipeline, B2B_OBJECTIONS)
