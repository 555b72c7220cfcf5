"""Shared fixtures: the dev data (skipped without /work/shared/data) and generated texts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from monitor.sentiment.dataset import Labelled, read_labelled

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "zh-sentiment-dev"


@pytest.fixture(scope="session")
def dev_rows() -> list[Labelled]:
    path = DEV / "waimai_10k.csv"
    if not path.is_file():
        pytest.skip(f"dev data not found at {path}")
    return read_labelled(path)


def generated_texts(n: int, seed: int = 0) -> list[str]:
    """Varied texts: Chinese from SnowNLP's common and rare characters, unknown characters,
    Latin, digits, punctuation, emoji, whitespace, traditional characters, empty."""
    rng = random.Random(seed)
    common = (
        "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心"
        "她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给"
        "世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社"
        "便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济"
        "车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企"
        "八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音"
        "跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普"
        "怕弹校苦创假久错承印晚兰试股拿脑预谁益阳若哪微尼继送急血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷洲冲射略范竟句室异激汉村哈策演简卡罪判担"
        "州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈刘读啊超免压银买皇养伊怀执副乱抗犯追帮宣佛岁航优怪香著田铁控税左右份穿艺背阵草脚概恶块顿敢守酒岛托央户烈洋哥索胡款靠评版"
        "宝座释景顾弟登货互付伯慢欧换闻危忙核暗姐介坏讨丽良序升监临亮露永呼味野架域沙掉括舰鱼杂误湾吉减编楚肯测败屋跑梦散温困剑渐封救贵枪缺楼县尚毫移娘朋画班智亦耳恩短掌恐遗固席松秘谢鲁遇康"
        "虑幸均销钟诗藏赶剧票损忽巨炮旧端探湖录叶春乡附吸予礼港雨呀板庭妇归睛饭额含顺输摇招婚脱补谓督毒油疗旅泽材灭逐莫笔亡鲜词圣择寻厂睡博勒烟授诺伦岸奥唐卖俄炸载洛健堂旁宫喝借君禁阴园谋宋"
        "避抓荣姑孙逃牙束跳顶玉镇雪午练迫爷篇肉嘴馆遍凡础洞卷坦牛宁纸诸训私庄祖丝翻暴森塔默握戏隐熟骨访弱蒙歌店鬼软典欲萨伙遭盘爸扩盖弄雄稳忘亿刺拥徒姆杨齐赛趣曲刀床迎冰虚玩析窗醒妻透购替塞"
        "努休虎扬途侵刑绿兄迅套贸毕唯谷轮库迹尤竞街促延震弃甲伟麻川申缓潜闪售灯针哲络抵朱埃抱鼓植纯夏忍页杰筑折郑贝尊吴秀混臣雅振染盛怒舞圆搞狂措姓残秋培迷诚宽宇猛摆梅毁伸摩盟末乃悲拍丁赵"
    )
    rare = "龘靐齉爩鱻麤𠀀㐀䶵鿿"
    other = [
        "hello",
        "APP",
        "iPhone15",
        "123",
        "4.5",
        " ",
        "  ",
        "\t",
        "，",
        "。",
        "！",
        "？",
        "...",
        "~",
        "😀",
        "👍",
        "😡",
        "[怒]",
        "[哈哈]",
        "@用户",
        "#话题#",
        "http://t.cn/x",
        "天氣",
        "們",
        "ｆｕｌｌ",
        "\u3000",
    ]
    texts = ["", " ", "。", "！！！", "😀", "abc", "好", "差", "不"]
    while len(texts) < n:
        parts = []
        for _ in range(rng.choice([1, 1, 2, 3, 5, 8, 20])):
            kind = rng.random()
            if kind < 0.7:
                parts.append("".join(rng.choice(common) for _ in range(rng.randint(1, 12))))
            elif kind < 0.75:
                parts.append("".join(rng.choice(rare + common) for _ in range(rng.randint(1, 4))))
            else:
                parts.append(rng.choice(other))
        texts.append("".join(parts))
    return texts[:n]
