// Fictional applicants for simulated traffic. Every identifier carries a valid check character
// (computed by the simulators' own code, independent of the hub's normalisers, so that a bug in
// either shows as a disagreement) unless a caller breaks it on purpose to exercise the hub's
// rejection path.

import { CREDIT_CODE_CHARS, citizenIdCheck, creditCodeCheck } from './check-characters';
import { Random } from './random';

/** Districts and counties of Shijiazhuang (GB/T 2260), where most applicants are registered. */
export const CITY_REGIONS = [
  '130102', '130104', '130105', '130108', '130109', '130110', '130111',
  '130121', '130123', '130125', '130126', '130181', '130183', '130184',
];
// Applicants born elsewhere in China: Hebei neighbours, Beijing, and Xinjiang for the
// Uyghur names (their ID numbers start with 65).
const OTHER_REGIONS = ['130203', '130602', '131102', '110105', '410102', '370102'];
const XINJIANG_REGIONS = ['650102', '650104', '652801', '653101'];

const SURNAMES = [
  '王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '马', '朱', '胡', '郭', '何',
  '高', '林', '罗', '郑', '梁', '谢', '宋', '唐', '许', '韩', '冯', '邓', '曹', '彭', '田', '董', '袁',
  '潘', '于', '蒋', '蔡', '杜', '叶', '程', '苏', '魏', '吕', '丁', '任', '姚', '卢', '崔', '范', '郝',
  '欧阳', '司马', '上官',
];
const GIVEN_NAMES = [
  '建国', '伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟',
  '涛', '明', '超', '秀兰', '霞', '平', '刚', '桂英', '红', '浩然', '子涵', '欣怡', '梓萱', '宇轩',
  '一诺', '雨桐', '俊杰', '晓东', '海燕', '志刚', '凤英', '玉兰', '国强', '文博', '振华', '淑珍',
];
// Names transliterated from Uyghur, Kazakh and other languages are written with a middle dot.
const DOTTED_GIVEN = ['阿依古丽', '买买提', '迪丽娜尔', '艾尔肯', '古丽娜扎', '努尔兰', '热依拉', '阿布都拉'];
const DOTTED_FAMILY = ['买买提', '艾力', '阿不都', '吐尔逊', '热合曼', '哈斯木', '依明', '托合提'];

const TRADE_NAMES = [
  '恒泰', '北辰', '福满园', '华信', '瑞丰', '金鼎', '鑫源', '博远', '天诚', '润泽', '宏达', '嘉禾',
  '聚源', '冀中', '燕赵', '太行', '滹沱', '长安', '正和', '汇通', '德顺', '永盛', '康泰', '明轩',
];
const INDUSTRIES = {
  trade: ['商贸', '贸易', '物流', '汽车销售', '建材'],
  food: ['食品', '餐饮管理', '粮油', '乳业', '饮品'],
  manufacturing: ['机械制造', '电子科技', '化工', '包装制品', '电线电缆', '钢结构'],
  services: ['科技', '信息技术', '企业管理咨询', '文化传媒', '医药', '印务'],
};
export type Sector = keyof typeof INDUSTRIES;
const SHOP_DISTRICTS = ['长安区', '桥西区', '新华区', '裕华区', '藁城区', '鹿泉区', '栾城区'];
const SHOP_KINDS = ['餐饮店', '便利店', '小吃店', '超市', '面馆', '烧饼店', '水果店'];

export type Enterprise = { name: string; creditCode: string };

/** An 18-character citizen ID number (GB 11643) with its check digit. */
export function citizenId(rng: Random, opts: { region?: string; birthYear?: number } = {}): string {
  const body = citizenIdBody(rng, opts.region ?? randomRegion(rng), opts.birthYear ?? rng.int(1950, 2004));
  return body + citizenIdCheck(body);
}

/** The 15-digit form issued before 1999: region, yyMMdd, 3-digit serial, no check digit. */
export function legacyCitizenId(rng: Random): string {
  const body = citizenIdBody(rng, rng.pick(CITY_REGIONS), rng.int(1930, 1980));
  return body.slice(0, 6) + body.slice(8);
}

/** A citizen ID born in Xinjiang, to go with a name written with a middle dot. */
export function xinjiangCitizenId(rng: Random): string {
  return citizenId(rng, { region: rng.pick(XINJIANG_REGIONS) });
}

/** A unified social credit code (GB 32100) with its check character. */
export function uscc(rng: Random, opts: { individual?: boolean; region?: string } = {}): string {
  // 9 = registered by market regulation; then 1 company, 2 individual business (个体工商户).
  const prefix = opts.individual ? '92' : '91';
  const region = opts.region ?? rng.pick(['130100', ...CITY_REGIONS]);
  // Codes issued since 2015 carry "MA" plus a serial in place of an old organisation code.
  let org = 'MA';
  for (let i = 0; i < 7; i++) org += rng.pick([...CREDIT_CODE_CHARS]);
  const body = prefix + region + org;
  return body + creditCodeCheck(body);
}

/** The same identifier with a different, therefore wrong, check character. */
export function breakCheckChar(id: string, kind: 'citizen-id' | 'uscc'): string {
  const alphabet = kind === 'citizen-id' ? '0123456789X' : CREDIT_CODE_CHARS;
  const last = id[id.length - 1].toUpperCase();
  const i = alphabet.indexOf(last);
  return id.slice(0, -1) + alphabet[(i + 1) % alphabet.length];
}

/** A citizen ID number with a wrong check digit, for the hub's rejection path. */
export function invalidCitizenId(rng: Random): string {
  return breakCheckChar(citizenId(rng), 'citizen-id');
}

/** A credit code with a wrong check character, for the hub's rejection path. */
export function invalidUscc(rng: Random): string {
  return breakCheckChar(uscc(rng), 'uscc');
}

/** A mobile number: 11 digits, 1[3-9]… (MIIT numbering plan). */
export function mobile(rng: Random): string {
  return `1${rng.int(3, 9)}${rng.digits(9)}`;
}

/** A Shijiazhuang landline as clerks write it: `0311-86688001`. */
export function landline(rng: Random): string {
  return `0311-${rng.pick(['8', '6'])}${rng.digits(7)}`;
}

/** A mobile as it gets typed into the vehicle office's system: spaces, dashes, +86. */
export function formattedMobile(rng: Random, number = mobile(rng)): string {
  const groups = `${number.slice(0, 3)} ${number.slice(3, 7)} ${number.slice(7)}`;
  return rng.weighted<string>([
    [number, 5],
    [groups, 2],
    [groups.replace(/ /g, '-'), 1],
    [`+86 ${number}`, 1],
    [`+86-${groups.replace(/ /g, '-')}`, 1],
  ]);
}

/**
 * A Han name. `clerkTyped`: as a counter clerk types it, now and then padding a two-character
 * name with a full-width space (王　芳) so that it lines up with three-character ones.
 */
export function personName(rng: Random, opts: { clerkTyped?: boolean } = {}): string {
  const surname = rng.pick(SURNAMES);
  const given = rng.pick(GIVEN_NAMES);
  if (opts.clerkTyped && surname.length + given.length === 2 && rng.chance(0.15)) return `${surname}\u3000${given}`;
  return surname + given;
}

/** A name transliterated with a middle dot: 阿依古丽·买买提. */
export function dottedName(rng: Random): string {
  return `${rng.pick(DOTTED_GIVEN)}·${rng.pick(DOTTED_FAMILY)}`;
}

/** A natural person: name and matching citizen ID (a dotted name comes with a Xinjiang ID). */
export function person(rng: Random, opts: { clerkTyped?: boolean } = {}): { name: string; idNumber: string } {
  if (rng.chance(0.08)) return { name: dottedName(rng), idNumber: xinjiangCitizenId(rng) };
  return { name: personName(rng, opts), idNumber: citizenId(rng) };
}

/** A company or an individual business of the city, with its credit code. */
export function enterprise(rng: Random, sector: Sector = rng.pick(Object.keys(INDUSTRIES) as Sector[])): Enterprise {
  if (sector === 'food' && rng.chance(0.4)) {
    const name = `石家庄市${rng.pick(SHOP_DISTRICTS)}${rng.pick(TRADE_NAMES)}${rng.pick(SHOP_KINDS)}`;
    return { name, creditCode: uscc(rng, { individual: true }) };
  }
  const suffix = rng.weighted<string>([['有限公司', 8], ['有限责任公司', 2], ['股份有限公司', 1]]);
  const name = `石家庄${rng.pick(TRADE_NAMES)}${rng.pick(INDUSTRIES[sector])}${suffix}`;
  return { name, creditCode: uscc(rng) };
}

/** A Chinese passport number (E + 8 digits), or another country's. */
export function passportNumber(rng: Random): string {
  return rng.chance(0.8) ? `E${rng.digits(8)}` : `${rng.pick(['P', 'K', 'X'])}${rng.digits(7)}`;
}

/** Digits as a Chinese input method types them: `１３０１…`. */
export function toFullWidthDigits(s: string): string {
  return s.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
}

function randomRegion(rng: Random): string {
  return rng.chance(0.85) ? rng.pick(CITY_REGIONS) : rng.pick(OTHER_REGIONS);
}

function citizenIdBody(rng: Random, region: string, year: number): string {
  const month = rng.int(1, 12);
  const day = rng.int(1, month === 2 ? 28 : [4, 6, 9, 11].includes(month) ? 30 : 31);
  const serial = String(rng.int(1, 999)).padStart(3, '0');
  return `${region}${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${serial}`;
}
