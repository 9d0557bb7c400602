"""Common first names in England and Wales, for redaction (bot/redaction.py).

A hand-written list of names common among children and parents in recent decades (the
kind the ONS "Baby names in England and Wales" tables rank), lower case. It does not have
to be complete: a capitalised name after "my son", "called" and the like is caught
without it. It lets a name be caught where nothing else marks it: in lower case after a
relation word ("my son jack"), after "I'm", or on its own ("Jack has ADHD").

AMBIGUOUS names are also ordinary words ("Will the council pay", "May I ask", a "Grace"
period): they count as names only where a relation word or an introduction comes first.
"""
from __future__ import annotations

FIRST_NAMES = frozenset("""
aaliyah aaron abbie abby abdul abigail adam adele aidan aiden aimee alan albert alex alexander alexandra
alfie alice alicia alisha alison amelia amelie amir amy andrea andrew angela anna annabelle anne annie
anthony archie arlo arthur ashley aston ava ayesha barbara barry beatrice bella ben benjamin beth bethany
billy blake bobby bradley brandon brian brooke bryony caleb callum cameron carl carly caroline carys
cerys charlie charlotte chelsea chloe christine christopher ciara ciaran claire clara connor conor
courtney craig daisy-mae damian daniel danielle darren david dawn dean debbie deborah declan demi
denise dexter dominic donna dylan edward eileen elaine eleanor elena eli elijah elise eliza elizabeth
ella ellie elliot elliott eloise elsie emily emma erin esme ethan eva evan evelyn evie ewan faye
felicity finlay finley finn florence francesca freddie freya gabriel gary gemma george georgia
georgina gillian graham grayson gregory hannah harley harper harriet harrison harvey hayden hayley
heidi helen henry hollie hugo ian imogen isaac isabel isabella isabelle isla isobel ivan jacob jade
jake james jamie jasmine jason jayden jenna jennifer jenny jessica jodie joe joel john jonathan jordan
joseph joshua josie julia julie justin kai karen kate katherine katie kayla keeley keira kelly kerry
kevin kieran kyle lacey lara laura lauren layla leah lee leo leon lewis liam libby lilly lily lily-mae
linda lindsay lisa logan lola louie louis louise lucas lucy luke luna lydia lyla maddison madison
maisie maria marie martin mary matilda matthew megan melissa mia michael michelle millie mohammed
mohammad muhammad mollie molly morgan nadia naomi natalie nathan neil niall nicholas nicola nina noah
oliver olivia ollie oscar owen paige pamela paul penelope peter philip phoebe rachel rebecca reece
rhys richard riley robert robyn rory ruth ryan sam samantha samuel sara sarah scarlett scott sean
sebastian shannon sharon shaun sienna simon sofia sophia sophie stacey stanley stephanie stephen
steven stuart susan tanya teddy theo theodore thomas tia tilly timothy tobias toby tom tommy tracey
tyler vanessa victoria wendy william willow yasmin zach zachary zak zara zoe zoë zac
jack harry max oscar grace hope faith joy mark bill rose ruby amber summer autumn may will ray frank
pat sue bob rob poppy holly ivy violet iris heather jasmine daisy dot art don rosie reggie ronnie
""".split())

AMBIGUOUS = frozenset("""
grace hope faith joy mark bill rose ruby amber summer autumn may will ray frank pat sue bob rob
poppy holly ivy violet iris heather daisy dot art don jordan carl lee dean max chase hunter
""".split())
