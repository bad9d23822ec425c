# ruff: noqa: E501  (a data table: one case per line reads better than wrapped strings)
"""Spoken form -> written form table for the post-processing pipeline (also read by bench/postprocessing.py).

Phrasing is what people say to a bank or telco agent, or what a Whisper-style engine emits (sometimes
already with digits). ``xfail`` holds the reason when the expected written form is out of reach of the
pipeline because of NeMo's own grammar.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    lang: str
    spoken: str
    expected: str
    domain: str = "generic"
    hot_words: tuple[str, ...] = ()
    xfail: str = ""


NEMO_TIME = "NeMo pt has no grammar for 'e meia' clock times"
NEMO_MATH = "NeMo en does not verbalise arithmetic ('six times ten equals' -> '6 × 10 =')"

PT_CASES: list[Case] = [
    # --- cardinals, years, percentages (ITN) ---
    Case("pt", "o contrato foi assinado em dois mil e vinte e cinco", "o contrato foi assinado em 2025"),
    Case("pt", "dois mil e vinte e cinco", "2025"),
    Case("pt", "a taxa subiu dez por cento", "a taxa subiu 10%"),
    Case("pt", "o desconto é de vinte e cinco por cento", "o desconto é de 25%"),
    Case("pt", "a inflação ficou em quatro vírgula cinco por cento", "a inflação ficou em 4,5%"),
    Case("pt", "dois vírgula cinco por cento ao mês", "2,5% ao mês"),
    Case("pt", "tenho trinta e dois anos", "tenho 32 anos"),
    Case("pt", "são mil e quinhentos funcionários", "são 1500 funcionários"),
    Case("pt", "a cidade tem cento e vinte mil habitantes", "a cidade tem 120.000 habitantes"),
    Case("pt", "um milhão de pessoas", "1 milhão de pessoas"),
    Case("pt", "Que tal seiscentos e sete?", "Que tal 607?"),
    Case("pt", "Nota dez.", "Nota 10."),
    Case("pt", "cem por cento de certeza", "100% de certeza"),
    # --- money ---
    Case("pt", "dez mil reais", "R$ 10.000,00", "banking"),
    Case("pt", "vinte e três reais e cinquenta centavos", "R$ 23,50", "banking"),
    Case("pt", "o boleto é de cento e cinquenta reais", "o boleto é de R$ 150,00", "banking"),
    Case("pt", "a fatura veio com trezentos e quarenta e dois reais e dez centavos",
         "a fatura veio com R$ 342,10", "telecom"),
    Case("pt", "quero transferir mil e duzentos reais", "quero transferir R$ 1.200,00", "banking"),
    Case("pt", "um real e noventa e nove centavos", "R$ 1,99"),
    Case("pt", "faltam cinquenta centavos", "faltam R$ 0,50"),
    Case("pt", "o saldo é de dois milhões de reais", "o saldo é de R$ 2.000.000,00", "banking"),
    Case("pt", "paguei 150 reais", "paguei R$ 150,00"),
    Case("pt", "custa 1.500 reais", "custa R$ 1.500,00"),
    Case("pt", "comprei por vinte dólares", "comprei por US$ 20,00"),
    Case("pt", "custa dez reais e cinquenta", "custa R$ 10,50"),
    Case("pt", "a passagem saiu por quinhentos euros", "a passagem saiu por € 500,00"),
    Case("pt", "Meu limite é de dois mil e quinhentos reais.", "Meu limite é de R$ 2.500,00.", "banking"),
    # --- CPF ---
    Case("pt", "meu cpf é um dois três ponto quatro cinco seis ponto sete oito nove traço zero nove",
         "meu cpf é 123.456.789-09", "banking"),
    Case("pt", "O meu CPF é 529 982 247 25.", "O meu CPF é 529.982.247-25.", "banking"),
    Case("pt", "cpf cento e vinte e três quatrocentos e cinquenta e seis setecentos e oitenta e nove zero nove",
         "cpf 123.456.789-09", "banking"),
    Case("pt", "o cpf dele é três nove zero, cinco três três, quatro quatro sete, zero cinco",
         "o cpf dele é 390.533.447-05", "banking"),
    Case("pt", "meu cpf é um dois três quatro cinco seis sete oito nove zero zero",
         "meu cpf é 12345678900", "banking"),
    Case("pt", "um dois três quatro cinco seis sete oito nove zero zero", "12345678900", "banking"),
    Case("pt", "CPF 123.456.789-09", "CPF 123.456.789-09", "banking"),
    Case("pt", "CPF 123.456.789-00", "CPF 123.456.789-00", "banking"),
    Case("pt", "é um um um quatro quatro quatro sete sete sete três cinco", "é 111.444.777-35", "banking"),
    # --- CNPJ ---
    Case("pt", "o cnpj é um um dois dois dois três três três zero zero zero um oito um",
         "o cnpj é 11.222.333/0001-81", "banking"),
    Case("pt", "CNPJ 11222333000181", "CNPJ 11.222.333/0001-81", "banking"),
    Case("pt", "cnpj onze quatrocentos e quarenta e quatro setecentos e setenta e sete zero zero zero um sessenta e um",
         "cnpj 11.444.777/0001-61", "banking"),
    Case("pt", "cnpj um um dois dois dois três três três zero zero zero um oito dois",
         "cnpj 11222333000182", "banking"),
    # --- CEP ---
    Case("pt", "o cep é zero um três um zero um zero zero", "o cep é 01310-100"),
    Case("pt", "CEP 01310100", "CEP 01310-100"),
    Case("pt", "cep zero quatro cinco quatro três traço zero zero zero", "cep 04543-000", "telecom"),
    # --- phones ---
    Case("pt", "meu celular é onze nove oito sete seis cinco quatro três dois um",
         "meu celular é (11) 98765-4321", "telecom"),
    Case("pt", "pode ligar no vinte e um três dois um zero cinco quatro três dois",
         "pode ligar no (21) 3210-5432", "telecom"),
    Case("pt", "o telefone é nove nove oito sete seis cinco quatro três dois", "o telefone é 99876-5432",
         "telecom"),
    Case("pt", "liga no zero oitocentos, sete sete zero, um dois três quatro", "liga no 0800 770 1234",
         "telecom"),
    Case("pt", "onze nove nove oito sete seis cinco quatro três dois", "(11) 99876-5432", "telecom"),
    Case("pt", "meu whatsapp é (11) 98765-4321", "meu whatsapp é (11) 98765-4321", "telecom"),
    Case("pt", "o número é quarenta e sete nove nove um dois três meia meia sete oito",
         "o número é (47) 99123-6678", "telecom"),
    # --- protocol and account numbers ---
    Case("pt", "o número do protocolo é dois zero dois quatro zero zero zero um dois três quatro",
         "o número do protocolo é 20240001234", "telecom"),
    Case("pt", "agência um dois três quatro, conta cinco seis sete oito nove traço zero",
         "agência 1234, conta 56789-0", "banking"),
    Case("pt", "número do pedido: quatro cinco seis sete oito", "número do pedido: 45678"),
    # --- dates and times ---
    Case("pt", "primeiro de janeiro de dois mil e vinte", "1º de janeiro de 2020"),
    Case("pt", "vinte e cinco de dezembro de dois mil e vinte e quatro", "25 de dezembro de 2024"),
    Case("pt", "o vencimento é dia cinco de março", "o vencimento é dia 5 de março", "banking"),
    Case("pt", "a reunião é às quinze horas e trinta minutos", "a reunião é às 15h30"),
    Case("pt", "o voo sai às dezessete horas", "o voo sai às 17h"),
    Case("pt", "me liga às duas e meia da tarde", "me liga às 14h30", xfail=NEMO_TIME),
    # --- ordinals ---
    Case("pt", "ficou em décimo terceiro lugar", "ficou em 13º lugar"),
    Case("pt", "o décimo terceiro salário cai amanhã", "o 13º salário cai amanhã"),
    Case("pt", "moro no vigésimo primeiro andar", "moro no 21º andar"),
    # --- measures ---
    Case("pt", "percorri cinco quilômetros", "percorri 5 km"),
    Case("pt", "a encomenda pesa dez quilos", "a encomenda pesa 10 kg"),
    # --- left alone ---
    Case("pt", "Um grupo de crianças está andando em um rio perto da margem do rio.",
         "Um grupo de crianças está andando em um rio perto da margem do rio."),
    Case("pt", "eu tenho uma dúvida sobre a minha fatura", "eu tenho uma dúvida sobre a minha fatura"),
    Case("pt", "Uma raposa velha não consegue aprender nenhum ofício.",
         "Uma raposa velha não consegue aprender nenhum ofício."),
    Case("pt", "R$ 10.000,00 na conta", "R$ 10.000,00 na conta", "banking"),
    Case("pt", "a taxa é de 10%", "a taxa é de 10%"),
    # --- hot words ---
    Case("pt", "fiz um pics de cinquenta reais", "fiz um PIX de R$ 50,00", "banking", ("PIX", "TED", "Selic")),
    Case("pt", "a taxa selique está em dez vírgula cinco por cento", "a taxa Selic está em 10,5%", "banking",
         ("PIX", "TED", "Selic")),
    Case("pt", "vou mandar uma tedi amanhã", "vou mandar uma TED amanhã", "banking", ("PIX", "TED", "Selic")),
    Case("pt", "o peixe custa vinte reais", "o peixe custa R$ 20,00", "generic", ("PIX", "TED", "Selic")),
    Case("pt", "tenho conta no nu bank", "tenho conta no Nubank", "banking", ("Nubank",)),
    Case("pt", "a chave pix é meu cpf", "a chave PIX é meu cpf", "banking", ("PIX",)),
]  # fmt: skip

EN_CASES: list[Case] = [
    Case("en", "twenty twenty five", "2025"),
    Case("en", "the year two thousand", "the year 2000"),
    Case("en", "nineteen ninety nine", "1999"),
    Case("en", "ten percent", "10%"),
    Case("en", "it grew by twelve percent last year", "it grew by 12% last year"),
    Case("en", "twenty three dollars and fifty cents", "$23.50"),
    Case("en", "ten thousand dollars", "$10,000"),
    Case("en", "it costs one million dollars", "it costs $1,000,000"),
    Case("en", "fifty cents", "$0.50"),
    Case("en", "I paid 150 dollars", "I paid $150"),
    Case("en", "five dollars", "$5"),
    Case("en", "one hundred and twenty people", "120 people"),
    Case("en", "thirty five years old", "35 years old"),
    Case("en", "twelve hundred", "1200"),
    Case("en", "one point five million", "1.5 million"),
    Case("en", "two billion people", "2 billion people"),
    Case("en", "three point one four", "3.14"),
    Case("en", "the meeting is at three thirty p m", "the meeting is at 3:30 p.m."),
    Case("en", "wake me up at seven o'clock", "wake me up at 7:00"),
    Case("en", "it's quarter past three", "it's 3:15"),
    Case("en", "on may fifth", "on may 5"),
    Case("en", "he finished in twenty first place", "he finished in 21st place"),
    Case("en", "for the first time", "for the first time"),
    Case("en", "wait a second", "wait a second"),
    Case("en", "my account number is four four five one two three", "my account number is 445123"),
    Case("en", "call me at five five five one two three four five six seven", "call me at 555-123-4567"),
    Case("en", "I ran five kilometers", "I ran 5 km"),
    Case("en", "I have two kids", "I have two kids"),
    Case("en", "Today only platforms one and three are used.", "Today only platforms one and three are used."),
    Case("en", "The expression goes six times ten equals sixty not six hundred thousand that gives us a twelve "
         "percent chance.",
         "The expression goes six times ten equals 60 not 600000 that gives us a 12% chance."),
    Case("en", "The expression goes six times ten equals sixty not six hundred thousand that gives us a twelve "
         "percent chance.",
         "The expression goes 6 × 10 = 60 not 600000 that gives us a 12% chance.", xfail=NEMO_MATH),
    Case("en", "Mr. Quilter is the apostle of the middle classes.", "Mr. Quilter is the apostle of the middle classes."),
    Case("en", "send it via pics", "send it via PIX", hot_words=("PIX",)),
    Case("en", "we deploy on kubernetis", "we deploy on Kubernetes", hot_words=("Kubernetes",)),
    Case("en", "the fix is in", "the fix is in", hot_words=("PIX",)),
]  # fmt: skip

ALL_CASES = PT_CASES + EN_CASES
